; Exercise 7.10, double-buffered: exercise 7.9's pipeline with compressed weights (1/4) and
; inputs (1/2); compute is unchanged, so the gain is only in the prologue and the serial DMA.
;   per 32-row tile: input 16384 B -> 256, MACs 1048576 -> 4096, output 16384 B -> 256
move DRAM WRAM 32768            ; weights, compressed
move DRAM NRAM 16384            ; input tile 0, compressed
sync
compute MAC_32 1048576
move DRAM NRAM 16384
sync
loop 30
    compute MAC_32 1048576
    move DRAM NRAM 16384
    move NRAM DRAM 16384
    sync
endloop
compute MAC_32 1048576
move NRAM DRAM 16384
sync
move NRAM DRAM 16384
