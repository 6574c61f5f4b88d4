; Exercise 7.10, serial: exercise 7.9 with sparse-coded data: weights compressed to 1/4 of their
; bytes, input neurons to 1/2. Only the DMA shrinks: the matrix unit decodes for free and still
; does the dense 1024*256*128 MACs. Outputs are dense.
;   weights 131072/4 = 32768 B -> 512 cycles, once
;   per 64-row tile: input 65536/2 = 32768 B -> 512, MACs 2097152 -> 8192, output 32768 B -> 512
move DRAM WRAM 32768
sync
loop 16
    move DRAM NRAM 32768
    sync
    compute MAC_32 2097152
    sync
    move NRAM DRAM 32768
    sync
endloop
