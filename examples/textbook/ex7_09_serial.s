; Exercise 7.9, serial: input 1024x256 (1 MiB), weights 256x128 (128 KiB), fp32, on textbook-7.7.
; The input does not fit in the 128 KiB NRAM: 16 tiles of 64 rows (64 KiB in + 32 KiB out).
;   weights 131072 B / 64 = 2048 cycles, once
;   per tile: input 65536 B -> 1024, MACs 64*256*128 = 2097152 -> 8192, output 32768 B -> 512
move DRAM WRAM 131072
sync
loop 16
    move DRAM NRAM 65536
    sync
    compute MAC_32 2097152
    sync
    move NRAM DRAM 32768
    sync
endloop
