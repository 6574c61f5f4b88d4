; Exercise 7.12, double-buffered on textbook-7.11: core k computes output columns [512k, 512k+512)
; as 4 blocks of 128 columns; 32-row tiles, two input and two output buffers in NRAM (96 KiB), two
; 128 KiB weight buffers in WRAM. Every round computes tile t (4096 cycles) while the link brings
; tile t+1 from the SharedRAM (33), the previous output tile goes to DRAM (4 cores x 128 = 512 on
; the channel), and in the first two rounds of blocks 0..2 half of the next weight block comes in
; (4 cores x 512 = 2048 on the channel, after the stores): every round is compute-bound.
;   prologue: input -> SharedRAM 8192 + 4 weight blocks 4 x 1024 on DRAM, then a 33-cycle tile load
;   128 rounds x 4096, then the last 4 output tiles: 4 x 128
core 0
move DRAM SRAM 1048576             ; input -> SharedRAM
move DRAM WRAM 131072              ; weight block 0
sync
move SRAM NRAM 32768               ; input tile 0
sync
; block 0
compute MAC_32 1048576             ; tile 0
move SRAM NRAM 32768
move DRAM WRAM 65536               ; weight block 1, first half
sync
compute MAC_32 1048576             ; tile 1
move SRAM NRAM 32768
move DRAM WRAM 65536               ; weight block 1, second half
move NRAM DRAM 16384
sync
loop 30                            ; tiles 2..31 (tile 31 loads tile 0 for the next block)
    compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
    move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
    move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
    sync
endloop
loop 2                             ; blocks 1 and 2, prefetching blocks 2 and 3
    compute MAC_32 1048576
    move SRAM NRAM 32768
    move DRAM WRAM 65536           ; next weight block, first half
    move NRAM DRAM 16384
    sync
    compute MAC_32 1048576
    move SRAM NRAM 32768
    move DRAM WRAM 65536           ; next weight block, second half
    move NRAM DRAM 16384
    sync
    loop 30
        compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
        move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
        move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
        sync
    endloop
endloop
; block 3: no prefetch; its last tile loads no input
loop 31
    compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
    move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
    move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
    sync
endloop
compute MAC_32 1048576             ; tile 31
move NRAM DRAM 16384
sync
move NRAM DRAM 16384               ; output tile 31 of block 3
core 1
move DRAM WRAM 131072              ; weight block 0
sync
move SRAM NRAM 32768               ; input tile 0
sync
; block 0
compute MAC_32 1048576             ; tile 0
move SRAM NRAM 32768
move DRAM WRAM 65536               ; weight block 1, first half
sync
compute MAC_32 1048576             ; tile 1
move SRAM NRAM 32768
move DRAM WRAM 65536               ; weight block 1, second half
move NRAM DRAM 16384
sync
loop 30                            ; tiles 2..31 (tile 31 loads tile 0 for the next block)
    compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
    move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
    move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
    sync
endloop
loop 2                             ; blocks 1 and 2, prefetching blocks 2 and 3
    compute MAC_32 1048576
    move SRAM NRAM 32768
    move DRAM WRAM 65536           ; next weight block, first half
    move NRAM DRAM 16384
    sync
    compute MAC_32 1048576
    move SRAM NRAM 32768
    move DRAM WRAM 65536           ; next weight block, second half
    move NRAM DRAM 16384
    sync
    loop 30
        compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
        move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
        move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
        sync
    endloop
endloop
; block 3: no prefetch; its last tile loads no input
loop 31
    compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
    move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
    move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
    sync
endloop
compute MAC_32 1048576             ; tile 31
move NRAM DRAM 16384
sync
move NRAM DRAM 16384               ; output tile 31 of block 3
core 2
move DRAM WRAM 131072              ; weight block 0
sync
move SRAM NRAM 32768               ; input tile 0
sync
; block 0
compute MAC_32 1048576             ; tile 0
move SRAM NRAM 32768
move DRAM WRAM 65536               ; weight block 1, first half
sync
compute MAC_32 1048576             ; tile 1
move SRAM NRAM 32768
move DRAM WRAM 65536               ; weight block 1, second half
move NRAM DRAM 16384
sync
loop 30                            ; tiles 2..31 (tile 31 loads tile 0 for the next block)
    compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
    move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
    move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
    sync
endloop
loop 2                             ; blocks 1 and 2, prefetching blocks 2 and 3
    compute MAC_32 1048576
    move SRAM NRAM 32768
    move DRAM WRAM 65536           ; next weight block, first half
    move NRAM DRAM 16384
    sync
    compute MAC_32 1048576
    move SRAM NRAM 32768
    move DRAM WRAM 65536           ; next weight block, second half
    move NRAM DRAM 16384
    sync
    loop 30
        compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
        move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
        move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
        sync
    endloop
endloop
; block 3: no prefetch; its last tile loads no input
loop 31
    compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
    move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
    move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
    sync
endloop
compute MAC_32 1048576             ; tile 31
move NRAM DRAM 16384
sync
move NRAM DRAM 16384               ; output tile 31 of block 3
core 3
move DRAM WRAM 131072              ; weight block 0
sync
move SRAM NRAM 32768               ; input tile 0
sync
; block 0
compute MAC_32 1048576             ; tile 0
move SRAM NRAM 32768
move DRAM WRAM 65536               ; weight block 1, first half
sync
compute MAC_32 1048576             ; tile 1
move SRAM NRAM 32768
move DRAM WRAM 65536               ; weight block 1, second half
move NRAM DRAM 16384
sync
loop 30                            ; tiles 2..31 (tile 31 loads tile 0 for the next block)
    compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
    move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
    move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
    sync
endloop
loop 2                             ; blocks 1 and 2, prefetching blocks 2 and 3
    compute MAC_32 1048576
    move SRAM NRAM 32768
    move DRAM WRAM 65536           ; next weight block, first half
    move NRAM DRAM 16384
    sync
    compute MAC_32 1048576
    move SRAM NRAM 32768
    move DRAM WRAM 65536           ; next weight block, second half
    move NRAM DRAM 16384
    sync
    loop 30
        compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
        move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
        move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
        sync
    endloop
endloop
; block 3: no prefetch; its last tile loads no input
loop 31
    compute MAC_32 1048576      ; tile t: 32*256*128 MACs = 4096 cycles
    move SRAM NRAM 32768        ; input tile t+1 (33 cycles on the link)
    move NRAM DRAM 16384        ; output tile t-1 (128 cycles on DRAM)
    sync
endloop
compute MAC_32 1048576             ; tile 31
move NRAM DRAM 16384
sync
move NRAM DRAM 16384               ; output tile 31 of block 3
