/* aics C testbench: reads every input vector of IN (raw codes of aics_in_t, native byte order),
 * runs aics_top on each and writes the output codes to OUT. Prints the vector count and the
 * time spent in aics_top to stderr; exits non-zero on any I/O error. */
#include <stdio.h>
#include <time.h>

#include "aics_top.h"

static aics_in_t in_buf[AICS_IN_SIZE];
static aics_out_t out_buf[AICS_OUT_SIZE];

int main(int argc, char **argv) {
    FILE *fin;
    FILE *fout;
    long count = 0;
    clock_t spent = 0;
    if (argc != 3) {
        fprintf(stderr, "usage: %s IN OUT\n", argv[0]);
        return 2;
    }
    fin = fopen(argv[1], "rb");
    fout = fopen(argv[2], "wb");
    if (fin == NULL || fout == NULL) {
        fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    while (fread(in_buf, sizeof in_buf, 1, fin) == 1) {
        const clock_t start = clock();
        aics_top(in_buf, out_buf);
        spent += clock() - start;
        if (fwrite(out_buf, sizeof out_buf, 1, fout) != 1) {
            fprintf(stderr, "cannot write %s\n", argv[2]);
            return 1;
        }
        count++;
    }
    fclose(fin);
    if (fclose(fout) != 0) {
        return 1;
    }
    fprintf(stderr, "vectors %ld seconds %.6f\n", count, (double)spent / CLOCKS_PER_SEC);
    return 0;
}
