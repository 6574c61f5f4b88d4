; Exercise 7.9, double-buffered: 32 tiles of 32 rows, two input and two output buffers in NRAM
; (2 x 32 KiB + 2 x 16 KiB = 96 KiB). While tile i computes, tile i+1 loads and tile i-1 stores.
;   per tile: input 32768 B -> 512, MACs 32*256*128 = 1048576 -> 4096, output 16384 B -> 256
; Load + store = 768 cycles of DRAM per round < 4096: every steady round is compute-bound.
move DRAM WRAM 131072           ; weights
move DRAM NRAM 32768            ; input tile 0
sync
compute MAC_32 1048576          ; tile 0
move DRAM NRAM 32768            ; input tile 1
sync
loop 30                         ; tiles 1..30
    compute MAC_32 1048576
    move DRAM NRAM 32768        ; next input tile
    move NRAM DRAM 16384        ; previous output tile
    sync
endloop
compute MAC_32 1048576          ; tile 31
move NRAM DRAM 16384            ; output tile 30
sync
move NRAM DRAM 16384            ; output tile 31
