; Exercise 7.8, serial: input 32x256, weights 256x128, fp32, on textbook-7.7.
; Everything fits on chip (input 32 KiB + output 16 KiB in NRAM, weights 128 KiB in WRAM),
; so: load all, compute all, store all.
;   input   32768 B / 64  =  512 cycles
;   weights 131072 B / 64 = 2048 cycles
;   MACs 32*256*128 = 1048576 / 256 = 4096 cycles
;   output  16384 B / 64  =  256 cycles
;   total 6912 cycles
move DRAM NRAM 32768
move DRAM WRAM 131072
sync
compute MAC_32 1048576
sync
move NRAM DRAM 16384
