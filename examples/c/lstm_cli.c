/* lstm_cli: the LSTM runtime's C API (lstm.h, liblstm.a), the way a C
   program uses it. It prints exactly what the Rust CLI prints:

     lstm_cli classify MODEL TEXTS          one line a text:  `trainer classify predict`
     lstm_cli generate MODEL LEN SEED TEMPERATURE_Q8 TOP_K PRIME_FILE
                                            the prime, LEN sampled bytes and a
                                            newline: `trainer charlm generate`
     lstm_cli cost N                        (the firmware) marked regions for
                                            QEMU's instruction-counting plugin

   On the host MODEL is a file. Built with -DLSTM_EMBEDDED_MODELS (the
   Cortex-M firmware, `models.S`), MODEL is `classifier` or `charlm`: the
   model files linked into flash, read in place. TEXTS and PRIME_FILE are
   files (on the device through semihosting). C99; the storage is static,
   the only heap use is the host's copy of a model file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstm.h"

/* The storage, aligned for any type the library keeps (LSTM_STORAGE_ALIGN
   is 8: the alignment of uint64_t). */
static union {
    uint64_t align;
    unsigned char bytes[LSTM_CLASSIFIER_STORAGE_BYTES];
} classifier_storage;
static union {
    uint64_t align;
    unsigned char bytes[LSTM_CHARLM_STORAGE_BYTES];
} charlm_storage;

#ifdef LSTM_EMBEDDED_MODELS
extern const uint8_t lstm_classifier_model[], lstm_classifier_model_end[];
extern const uint8_t lstm_charlm_model[], lstm_charlm_model_end[];

static int model(const char *name, const uint8_t **bytes, size_t *len) {
    if (strcmp(name, "classifier") == 0) {
        *bytes = lstm_classifier_model;
        *len = (size_t)(lstm_classifier_model_end - lstm_classifier_model);
    } else if (strcmp(name, "charlm") == 0) {
        *bytes = lstm_charlm_model;
        *len = (size_t)(lstm_charlm_model_end - lstm_charlm_model);
    } else {
        fprintf(stderr, "error: the embedded models are `classifier` and `charlm`, not %s\n", name);
        return -1;
    }
    return 0;
}
#else
static int model(const char *path, const uint8_t **bytes, size_t *len) {
    FILE *f = fopen(path, "rb");
    long n;
    uint8_t *buf;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "error: cannot read %s\n", path);
        return -1;
    }
    buf = (uint8_t *)malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "error: cannot read %s\n", path);
        return -1;
    }
    fclose(f);
    *bytes = buf;
    *len = (size_t)n;
    return 0;
}
#endif

static int usage(void);

static int fail(const char *what, lstm_status s) {
    fprintf(stderr, "error: %s: %s (%d)\n", what, lstm_status_message(s), (int)s);
    return 1;
}

/* End the text: print its line as the CLI does. */
static int finish_line(lstm_classifier *c) {
    lstm_prediction p;
    char line[96];
    lstm_status s = lstm_classifier_finish(c, &p);
    if (s != LSTM_OK) return fail("lstm_classifier_finish", s);
    lstm_prediction_format(&p, line, sizeof line);
    printf("%s\n", line);
    return 0;
}

/* Each line of `texts` (a last line without a newline too) is one text. */
static int classify(const char *model_name, const char *texts) {
    const uint8_t *bytes;
    size_t len;
    lstm_classifier *c;
    lstm_status s;
    unsigned char chunk[256];
    size_t n;
    int open = 0;
    FILE *f;
    if (model(model_name, &bytes, &len) != 0) return 1;
    s = lstm_classifier_open(classifier_storage.bytes, sizeof classifier_storage.bytes, bytes, len, &c);
    if (s != LSTM_OK) return fail("lstm_classifier_open", s);
    f = fopen(texts, "rb");
    if (f == NULL) {
        fprintf(stderr, "error: cannot open %s\n", texts);
        return 1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        size_t at = 0;
        while (at < n) {
            unsigned char *nl = (unsigned char *)memchr(chunk + at, '\n', n - at);
            size_t end = nl ? (size_t)(nl - chunk) : n;
            if (!open) {
                if ((s = lstm_classifier_start(c)) != LSTM_OK) return fail("lstm_classifier_start", s);
                open = 1;
            }
            if ((s = lstm_classifier_feed(c, chunk + at, end - at)) != LSTM_OK) return fail("lstm_classifier_feed", s);
            if (nl) {
                if (finish_line(c) != 0) return 1;
                open = 0;
                at = end + 1;
            } else {
                at = end;
            }
        }
    }
    fclose(f);
    return open ? finish_line(c) : 0;
}

static int generate(const char *model_name, long n, uint64_t seed, unsigned temperature, unsigned top_k,
                    const char *prime_file) {
    const uint8_t *bytes;
    size_t len;
    lstm_charlm *g;
    lstm_status s;
    unsigned char chunk[256];
    size_t got;
    long i;
    FILE *f;
    if (model(model_name, &bytes, &len) != 0) return 1;
    s = lstm_charlm_open(charlm_storage.bytes, sizeof charlm_storage.bytes, bytes, len, seed, (uint16_t)temperature,
                         (uint16_t)top_k, &g);
    if (s != LSTM_OK) return fail("lstm_charlm_open", s);
    f = fopen(prime_file, "rb");
    if (f == NULL) {
        fprintf(stderr, "error: cannot open %s\n", prime_file);
        return 1;
    }
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        fwrite(chunk, 1, got, stdout);
        if ((s = lstm_charlm_prime(g, chunk, got)) != LSTM_OK) return fail("lstm_charlm_prime", s);
    }
    fclose(f);
    for (i = 0; i < n; i++) {
        uint8_t b;
        if ((s = lstm_charlm_next(g, &b)) != LSTM_OK) return fail("lstm_charlm_next", s);
        putchar(b);
    }
    /* The trainer ends its output with a newline. */
    putchar('\n');
    return 0;
}

#ifdef LSTM_EMBEDDED_MODELS
/* `cost N`: regions between lstm_cost_begin and lstm_cost_end that the
   QEMU instruction-counting plugin counts, one output line each: a text of
   N words through the classifier (start, feed, finish), and N characters
   generated by the language model after a prime. */
__attribute__((noinline)) void lstm_cost_begin(void) { __asm__ volatile("nop"); }
__attribute__((noinline)) void lstm_cost_end(void) { __asm__ volatile("nop\n\tnop"); }

static int cost(long n) {
    static char text[8 * 512];
    lstm_classifier *c;
    lstm_charlm *g;
    lstm_prediction p;
    lstm_status s;
    long i;
    uint8_t b = 0;
    if (n < 1 || n > 512) return usage();
    for (i = 0; i < n; i++) memcpy(text + 5 * i, "film ", 5);
    s = lstm_classifier_open(classifier_storage.bytes, sizeof classifier_storage.bytes, lstm_classifier_model,
                             (size_t)(lstm_classifier_model_end - lstm_classifier_model), &c);
    if (s != LSTM_OK) return fail("lstm_classifier_open", s);
    lstm_cost_begin();
    if ((s = lstm_classifier_start(c)) == LSTM_OK && (s = lstm_classifier_feed(c, (const uint8_t *)text, (size_t)(5 * n))) == LSTM_OK)
        s = lstm_classifier_finish(c, &p);
    lstm_cost_end();
    if (s != LSTM_OK) return fail("classify", s);
    printf("classify tokens=%ld\n", n);
    s = lstm_charlm_open(charlm_storage.bytes, sizeof charlm_storage.bytes, lstm_charlm_model,
                         (size_t)(lstm_charlm_model_end - lstm_charlm_model), 1, 256, 0, &g);
    if (s != LSTM_OK) return fail("lstm_charlm_open", s);
    if ((s = lstm_charlm_prime(g, (const uint8_t *)"The ", 4)) != LSTM_OK) return fail("lstm_charlm_prime", s);
    lstm_cost_begin();
    for (i = 0; i < n && s == LSTM_OK; i++) s = lstm_charlm_next(g, &b);
    lstm_cost_end();
    if (s != LSTM_OK) return fail("lstm_charlm_next", s);
    printf("charlm-generate tokens=%ld (last byte %u)\n", n, (unsigned)b);
    return 0;
}
#endif

static int usage(void) {
    fprintf(stderr,
            "usage: lstm_cli classify MODEL TEXTS\n"
            "       lstm_cli generate MODEL LEN SEED TEMPERATURE_Q8 TOP_K PRIME_FILE\n"
#ifdef LSTM_EMBEDDED_MODELS
            "       lstm_cli cost N                  (1 <= N <= 512)\n"
#endif
    );
    return 2;
}

int main(int argc, char **argv) {
    int status;
    /* Under QEMU, picolibc's semihosting start-up passes the -kernel path
       before the -append words: skip any word before the command. */
    while (argc > 1 && strcmp(argv[1], "classify") != 0 && strcmp(argv[1], "generate") != 0 &&
           strcmp(argv[1], "cost") != 0) {
        argv++;
        argc--;
    }
    if (argc == 4 && strcmp(argv[1], "classify") == 0) {
        status = classify(argv[2], argv[3]);
    } else if (argc == 8 && strcmp(argv[1], "generate") == 0) {
        status = generate(argv[2], strtol(argv[3], NULL, 10), (uint64_t)strtoull(argv[4], NULL, 10),
                          (unsigned)strtoul(argv[5], NULL, 10), (unsigned)strtoul(argv[6], NULL, 10), argv[7]);
#ifdef LSTM_EMBEDDED_MODELS
    } else if (argc == 3 && strcmp(argv[1], "cost") == 0) {
        status = cost(strtol(argv[2], NULL, 10));
#endif
    } else {
        status = usage();
    }
    fflush(stdout);
    /* exit, not return: on a semihosting device, returning from main does
       not end the program. */
    exit(status);
}
