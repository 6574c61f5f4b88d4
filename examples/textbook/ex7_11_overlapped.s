; Exercise 7.11, overlapped: the input goes once to the SharedRAM (core 0) and from there to every
; core over its own 1000 B/cycle link; each core's 256x32 weights come in two halves of 256x16,
; the second loading while the first is used.
;   input 32768 B -> 256 cycles on DRAM, then 33 cycles per link (32768 / 1000, rounded up)
;   weight half 16384 B -> 128 cycles; MACs per half 32*256*16 = 131072 -> 512 cycles
;   output half 32x16 x 4 B = 2048 B -> 16 cycles
core 0
move DRAM SRAM 32768      ; input -> SharedRAM
move DRAM WRAM 16384      ; weights, first half
sync
move SRAM NRAM 32768      ; input -> NRAM
sync
compute MAC_32 131072     ; first half
move DRAM WRAM 16384      ; weights, second half
sync
compute MAC_32 131072     ; second half
move NRAM DRAM 2048       ; outputs of the first half
sync
move NRAM DRAM 2048       ; outputs of the second half
core 1
move DRAM WRAM 16384
sync
move SRAM NRAM 32768
sync
compute MAC_32 131072
move DRAM WRAM 16384
sync
compute MAC_32 131072
move NRAM DRAM 2048
sync
move NRAM DRAM 2048
core 2
move DRAM WRAM 16384
sync
move SRAM NRAM 32768
sync
compute MAC_32 131072
move DRAM WRAM 16384
sync
compute MAC_32 131072
move NRAM DRAM 2048
sync
move NRAM DRAM 2048
core 3
move DRAM WRAM 16384
sync
move SRAM NRAM 32768
sync
compute MAC_32 131072
move DRAM WRAM 16384
sync
compute MAC_32 131072
move NRAM DRAM 2048
sync
move NRAM DRAM 2048
