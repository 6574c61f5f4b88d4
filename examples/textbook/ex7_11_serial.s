; Exercise 7.11, serial: input 32x256, weights 256x128, fp32, on textbook-7.11 (4 cores, DRAM
; 128 GB/s = 128 B/cycle shared, SharedRAM link 1 TB/s = 1000 B/cycle per core).
; Each core computes 32 output columns and loads the whole input and its 256x32 weights itself.
;   input 32768 B and weights 32768 B per core: 256 cycles each on the one DRAM channel
;   MACs 32*256*32 = 262144 per core -> 1024 cycles; output 32x32 x 4 B = 4096 B -> 32 cycles
core 0
move DRAM NRAM 32768
move DRAM WRAM 32768
sync
compute MAC_32 262144
sync
move NRAM DRAM 4096
core 1
move DRAM NRAM 32768
move DRAM WRAM 32768
sync
compute MAC_32 262144
sync
move NRAM DRAM 4096
core 2
move DRAM NRAM 32768
move DRAM WRAM 32768
sync
compute MAC_32 262144
sync
move NRAM DRAM 4096
core 3
move DRAM NRAM 32768
move DRAM WRAM 32768
sync
compute MAC_32 262144
sync
move NRAM DRAM 4096
