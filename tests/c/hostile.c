/* Hostile calls to the C API: every one a negative status, no crash, no
   write outside the storage. `hostile CLASSIFIER_MODEL CHARLM_MODEL`; exit
   0 when every check holds, else 1 after printing the ones that failed.
   C99, -Wall -Wextra -Werror. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstm.h"

static int failures = 0;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                     \
        }                                                                   \
    } while (0)

#define CANARY 64
#define BYTE 0xa5

/* The storage and a canary after it, aligned. */
static union {
    uint64_t align;
    unsigned char bytes[LSTM_CLASSIFIER_STORAGE_BYTES + CANARY];
} cs;
static union {
    uint64_t align;
    unsigned char bytes[LSTM_CHARLM_STORAGE_BYTES + CANARY];
} gs;

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    long n;
    uint8_t *buf;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) return NULL;
    buf = (uint8_t *)malloc((size_t)n);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) return NULL;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int canary_intact(const unsigned char *after) {
    int i;
    for (i = 0; i < CANARY; i++)
        if (after[i] != BYTE) return 0;
    return 1;
}

int main(int argc, char **argv) {
    size_t clen, glen, bytes = 0;
    uint8_t *cm, *gm, *bad;
    lstm_classifier *c = NULL, *zero;
    lstm_charlm *g = NULL;
    lstm_prediction p;
    uint8_t b;
    char line[96], tiny[4];
    size_t n;
    int s;
    if (argc != 3 || (cm = read_file(argv[1], &clen)) == NULL || (gm = read_file(argv[2], &glen)) == NULL) {
        fprintf(stderr, "usage: hostile CLASSIFIER_MODEL CHARLM_MODEL\n");
        return 2;
    }
    memset(cs.bytes, BYTE, sizeof cs.bytes);
    memset(gs.bytes, BYTE, sizeof gs.bytes);

    /* Every status has a text, known or not. */
    for (s = -200; s <= 200; s++) CHECK(lstm_status_message(s) != NULL);
    CHECK(strcmp(lstm_status_message(LSTM_OK), "ok") == 0);

    /* NULL arguments to open. */
    CHECK(lstm_classifier_open(NULL, LSTM_CLASSIFIER_STORAGE_BYTES, cm, clen, &c) == LSTM_ERR_NULL_ARGUMENT);
    CHECK(lstm_classifier_open(cs.bytes, LSTM_CLASSIFIER_STORAGE_BYTES, NULL, clen, &c) == LSTM_ERR_NULL_ARGUMENT);
    CHECK(lstm_classifier_open(cs.bytes, LSTM_CLASSIFIER_STORAGE_BYTES, cm, clen, NULL) == LSTM_ERR_NULL_ARGUMENT);
    CHECK(lstm_charlm_open(NULL, LSTM_CHARLM_STORAGE_BYTES, gm, glen, 1, 256, 0, &g) == LSTM_ERR_NULL_ARGUMENT);
    /* Short and misaligned storage. */
    CHECK(lstm_classifier_open(cs.bytes, LSTM_CLASSIFIER_STORAGE_BYTES - 1, cm, clen, &c) == LSTM_ERR_STORAGE_TOO_SMALL);
    CHECK(lstm_classifier_open(cs.bytes + 1, LSTM_CLASSIFIER_STORAGE_BYTES, cm, clen, &c) ==
          LSTM_ERR_STORAGE_MISALIGNED);
    CHECK(lstm_charlm_open(gs.bytes, 16, gm, glen, 1, 256, 0, &g) == LSTM_ERR_STORAGE_TOO_SMALL);
    CHECK(c == NULL && g == NULL);

    /* Corrupted, truncated and foreign models. */
    bad = (uint8_t *)malloc(clen);
    memcpy(bad, cm, clen);
    bad[clen / 2] ^= 0x40;
    CHECK(lstm_classifier_open(cs.bytes, LSTM_CLASSIFIER_STORAGE_BYTES, bad, clen, &c) == LSTM_ERR_CRC_MISMATCH);
    CHECK(lstm_classifier_open(cs.bytes, LSTM_CLASSIFIER_STORAGE_BYTES, cm, 5, &c) == LSTM_ERR_TRUNCATED);
    CHECK(lstm_classifier_open(cs.bytes, LSTM_CLASSIFIER_STORAGE_BYTES, (const uint8_t *)"not a model file", 16, &c) ==
          LSTM_ERR_BAD_MAGIC);
    CHECK(lstm_classifier_open(cs.bytes, LSTM_CLASSIFIER_STORAGE_BYTES, gm, glen, &c) == LSTM_ERR_WRONG_KIND);
    CHECK(lstm_charlm_open(gs.bytes, LSTM_CHARLM_STORAGE_BYTES, cm, clen, 1, 256, 0, &g) == LSTM_ERR_WRONG_KIND);
    CHECK(lstm_classifier_storage_size(bad, clen, &bytes) == LSTM_ERR_CRC_MISMATCH);
    CHECK(lstm_classifier_storage_size(cm, clen, NULL) == LSTM_ERR_NULL_ARGUMENT);
    CHECK(lstm_charlm_storage_size(cm, clen, &bytes) == LSTM_ERR_WRONG_KIND);
    CHECK(c == NULL && g == NULL);

    /* Handles that are not open: NULL, a zeroed buffer, the other kind. */
    zero = (lstm_classifier *)calloc(1, LSTM_CLASSIFIER_STORAGE_BYTES);
    CHECK(lstm_classifier_start(NULL) == LSTM_ERR_NULL_ARGUMENT);
    CHECK(lstm_classifier_start(zero) == LSTM_ERR_NOT_OPEN);
    CHECK(lstm_classifier_feed(zero, (const uint8_t *)"x", 1) == LSTM_ERR_NOT_OPEN);
    CHECK(lstm_charlm_next(NULL, &b) == LSTM_ERR_NULL_ARGUMENT);

    /* The right calls work, and the sizes are the header's. */
    CHECK(lstm_classifier_storage_size(cm, clen, &bytes) == LSTM_OK && bytes == LSTM_CLASSIFIER_STORAGE_BYTES);
    CHECK(lstm_charlm_storage_size(gm, glen, &bytes) == LSTM_OK && bytes == LSTM_CHARLM_STORAGE_BYTES);
    CHECK(lstm_classifier_open(cs.bytes, LSTM_CLASSIFIER_STORAGE_BYTES, cm, clen, &c) == LSTM_OK && c != NULL);
    CHECK(lstm_charlm_open(gs.bytes, LSTM_CHARLM_STORAGE_BYTES, gm, glen, 1, 256, 0, &g) == LSTM_OK && g != NULL);
    CHECK(lstm_classifier_start((lstm_classifier *)(void *)g) == LSTM_ERR_NOT_OPEN);
    CHECK(lstm_charlm_next((lstm_charlm *)(void *)c, &b) == LSTM_ERR_NOT_OPEN);

    /* Out of order: feed or finish before start, finish twice. */
    CHECK(lstm_classifier_feed(c, (const uint8_t *)"good", 4) == LSTM_ERR_NOT_STARTED);
    CHECK(lstm_classifier_finish(c, &p) == LSTM_ERR_NOT_STARTED);
    CHECK(lstm_classifier_start(c) == LSTM_OK);
    CHECK(lstm_classifier_feed(c, NULL, 3) == LSTM_ERR_NULL_ARGUMENT);
    CHECK(lstm_classifier_feed(c, NULL, 0) == LSTM_OK);
    CHECK(lstm_classifier_feed(c, (const uint8_t *)"a good film", 11) == LSTM_OK);
    CHECK(lstm_classifier_finish(c, NULL) == LSTM_ERR_NULL_ARGUMENT);
    CHECK(lstm_classifier_finish(c, &p) == LSTM_OK);
    CHECK(lstm_classifier_finish(c, &p) == LSTM_ERR_NOT_STARTED);
    CHECK(lstm_classifier_feed(c, (const uint8_t *)"more", 4) == LSTM_ERR_NOT_STARTED);
    CHECK(p.label != NULL && p.label_len > 0 && p.probability_q15 <= 32767);

    /* The line: cut to the buffer, NUL-terminated, its full length returned. */
    n = lstm_prediction_format(&p, line, sizeof line);
    CHECK(n == strlen(line) && n == 7 + p.label_len && line[1] == '.');
    CHECK(lstm_prediction_format(&p, NULL, 0) == n);
    CHECK(lstm_prediction_format(&p, tiny, sizeof tiny) == n && strlen(tiny) == sizeof tiny - 1 &&
          memcmp(tiny, line, sizeof tiny - 1) == 0);
    CHECK(lstm_prediction_format(NULL, tiny, sizeof tiny) == 0 && tiny[0] == 0);

    /* The language model: NULLs, then a byte. */
    CHECK(lstm_charlm_prime(g, NULL, 2) == LSTM_ERR_NULL_ARGUMENT);
    CHECK(lstm_charlm_prime(g, (const uint8_t *)"The ", 4) == LSTM_OK);
    CHECK(lstm_charlm_next(g, NULL) == LSTM_ERR_NULL_ARGUMENT);
    CHECK(lstm_charlm_next(g, &b) == LSTM_OK);

    /* Nothing was written past either storage. */
    CHECK(canary_intact(cs.bytes + LSTM_CLASSIFIER_STORAGE_BYTES));
    CHECK(canary_intact(gs.bytes + LSTM_CHARLM_STORAGE_BYTES));

    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
