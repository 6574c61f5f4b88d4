; Exercise 7.12, serial: input 1024x256 (1 MiB), weights 256x2048 (2 MiB), fp32, on textbook-7.11.
; Core k computes output columns [512k, 512k+512) as 4 blocks of 128 columns (a 128 KiB weight
; block fits WRAM); the input sits in the SharedRAM (core 0 loads it) and comes to NRAM in
; 64-row tiles (64 KiB in + 32 KiB out). Every step is followed by a sync: nothing overlaps.
;   input -> SharedRAM 1048576 B / 128 = 8192 cycles
;   per block: 4 cores x 131072 B / 128 = 4096 cycles of DRAM
;   per tile: 66 (link) + 8192 (compute) + 4 x 256 (stores of 4 cores on DRAM) = 9282
core 0
move DRAM SRAM 1048576         ; input -> SharedRAM
sync
loop 4                          ; 4 column blocks of 128 outputs
    move DRAM WRAM 131072       ; weight block 256x128
    sync
    loop 16                     ; 16 row tiles of 64 rows
        move SRAM NRAM 65536    ; input tile: 66 cycles on the link
        sync
        compute MAC_32 2097152  ; 64*256*128 MACs: 8192 cycles
        sync
        move NRAM DRAM 32768    ; output tile 64x128: 256 cycles on DRAM
        sync
    endloop
endloop
core 1
sync
loop 4                          ; 4 column blocks of 128 outputs
    move DRAM WRAM 131072       ; weight block 256x128
    sync
    loop 16                     ; 16 row tiles of 64 rows
        move SRAM NRAM 65536    ; input tile: 66 cycles on the link
        sync
        compute MAC_32 2097152  ; 64*256*128 MACs: 8192 cycles
        sync
        move NRAM DRAM 32768    ; output tile 64x128: 256 cycles on DRAM
        sync
    endloop
endloop
core 2
sync
loop 4                          ; 4 column blocks of 128 outputs
    move DRAM WRAM 131072       ; weight block 256x128
    sync
    loop 16                     ; 16 row tiles of 64 rows
        move SRAM NRAM 65536    ; input tile: 66 cycles on the link
        sync
        compute MAC_32 2097152  ; 64*256*128 MACs: 8192 cycles
        sync
        move NRAM DRAM 32768    ; output tile 64x128: 256 cycles on DRAM
        sync
    endloop
endloop
core 3
sync
loop 4                          ; 4 column blocks of 128 outputs
    move DRAM WRAM 131072       ; weight block 256x128
    sync
    loop 16                     ; 16 row tiles of 64 rows
        move SRAM NRAM 65536    ; input tile: 66 cycles on the link
        sync
        compute MAC_32 2097152  ; 64*256*128 MACs: 8192 cycles
        sync
        move NRAM DRAM 32768    ; output tile 64x128: 256 cycles on DRAM
        sync
    endloop
endloop
