; Exercise 7.8, pipelined: the weights in 4 column blocks of 256x32 (32 KiB each, two WRAM
; buffers); block i is computed while block i+1 loads and the outputs of block i-1 are stored.
;   weight block 32768 B -> 512 cycles; compute 32*256*32 = 262144 MACs -> 1024 cycles;
;   output block 32x32 x 4 B = 4096 B -> 64 cycles.
; Load and store share the DRAM channel: 512 + 64 < 1024, so each steady round is compute-bound.
.layer 1 fc
move DRAM NRAM 32768 tag=1      ; input
move DRAM WRAM 32768 tag=1      ; weight block 0
sync
compute MAC_32 262144 tag=1     ; block 0
move DRAM WRAM 32768 tag=1      ; weight block 1
sync
loop 2                          ; blocks 1 and 2
    compute MAC_32 262144 tag=1
    move DRAM WRAM 32768 tag=1  ; next weight block
    move NRAM DRAM 4096 tag=1   ; previous output block
    sync
endloop
compute MAC_32 262144 tag=1     ; block 3
move NRAM DRAM 4096 tag=1       ; output block 2
sync
move NRAM DRAM 4096 tag=1       ; output block 3
