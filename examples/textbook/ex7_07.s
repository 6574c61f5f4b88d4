; Exercise 7.7: a fully connected layer, input 1x256, weights 256x1, all fp32.
; Arch: textbook-7.7 (1 GHz, 256 fp32 MAC/cycle, DRAM 64 GB/s = 64 B/cycle, no latency).
; The layer is too small to overlap anything: load, compute, store, one after the other.
;
;   input   1x256 x 4 B = 1024 B   -> 16 cycles
;   weights 256x1 x 4 B = 1024 B   -> 16 cycles
;   MACs    256                    ->  1 cycle
;   output  1 x 4 B     =    4 B   ->  1 cycle
;   total 34 cycles = 34 ns
.layer 1 fc
move DRAM NRAM 1024 tag=1    ; input neurons
move DRAM WRAM 1024 tag=1    ; weights
sync
compute MAC_32 256 tag=1
sync
move NRAM DRAM 4 tag=1       ; output neuron
