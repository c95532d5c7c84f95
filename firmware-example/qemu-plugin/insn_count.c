/*
 * QEMU TCG plugin: counts the guest instructions executed between calls of
 * two marker functions (the firmware's `lstm_cost_begin` / `lstm_cost_end`).
 *
 *   qemu-system-arm ... -plugin insn_count.so,begin=0xADDR,end=0xADDR,out=FILE
 *
 * Every executed translation block adds its instruction count to a running
 * total (a callback at the block's start, so a block counts whole). At the
 * first instruction of `begin` the total is noted; at the first instruction
 * of `end` the difference is written to FILE as one line "region K N".
 * N counts every instruction after `begin`'s first block up to and including
 * `end`'s first block: the work in between plus a fixed few instructions of
 * the markers themselves.
 *
 * With profile=FILE as well, every translation block's executions inside
 * the regions are counted too, and at the end of region K the file FILE.K
 * gets one line per block executed in it, "ADDR N COUNT" (start address,
 * instructions, executions): `cargo xtask cost --profile` maps them to
 * functions.
 *
 * Only the few declarations of QEMU's public plugin API (qemu-plugin.h,
 * stable across 8.x-10.x) that are used are written out here, so that no
 * QEMU development package is needed.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef struct qemu_info_t qemu_info_t; /* only passed through */
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);

#define EXPORT __attribute__((visibility("default")))
/* The API version this plugin is written against. */
EXPORT int qemu_plugin_version = 2;

static uint64_t begin_addr, end_addr;
static uint64_t total, start;
static unsigned regions;
static FILE *out;

static void tb_exec(unsigned int vcpu, void *n_insns) {
    (void)vcpu;
    total += (uint64_t)(uintptr_t)n_insns;
}

/* Profile: one record per translated block. */
struct block {
    uint64_t vaddr, n, count;
};
static struct block **blocks;
static size_t n_blocks, cap_blocks;
static const char *profile_path;
static bool inside;

static void tb_exec_profiled(unsigned int vcpu, void *udata) {
    (void)vcpu;
    struct block *b = udata;
    total += b->n;
    if (inside) {
        b->count++;
    }
}

static void write_profile(unsigned region) {
    char path[4096];
    snprintf(path, sizeof path, "%s.%u", profile_path, region);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror("insn_count: profile");
        return;
    }
    for (size_t i = 0; i < n_blocks; i++) {
        if (blocks[i]->count) {
            fprintf(f, "%#llx %llu %llu\n", (unsigned long long)blocks[i]->vaddr, (unsigned long long)blocks[i]->n,
                    (unsigned long long)blocks[i]->count);
            blocks[i]->count = 0;
        }
    }
    fclose(f);
}

static void at_begin(unsigned int vcpu, void *unused) {
    (void)vcpu;
    (void)unused;
    start = total;
    inside = true;
}

static void at_end(unsigned int vcpu, void *unused) {
    (void)vcpu;
    (void)unused;
    fprintf(out, "region %u %llu\n", regions, (unsigned long long)(total - start));
    fflush(out);
    inside = false;
    if (profile_path) {
        write_profile(regions);
    }
    regions++;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    if (profile_path) {
        struct block *b = calloc(1, sizeof *b);
        if (n_blocks == cap_blocks) {
            cap_blocks = cap_blocks ? 2 * cap_blocks : 1024;
            blocks = realloc(blocks, cap_blocks * sizeof *blocks);
        }
        if (!b || !blocks) {
            fprintf(stderr, "insn_count: out of memory\n");
            exit(1);
        }
        b->vaddr = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, 0));
        b->n = n;
        blocks[n_blocks++] = b;
        qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec_profiled, QEMU_PLUGIN_CB_NO_REGS, b);
    } else {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)n);
    }
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t a = qemu_plugin_insn_vaddr(insn);
        if (a == begin_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, at_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
        } else if (a == end_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, at_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
    }
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "begin=", 6) == 0) {
            begin_addr = strtoull(argv[i] + 6, NULL, 0) & ~1ull; /* drop the Thumb bit */
        } else if (strncmp(argv[i], "end=", 4) == 0) {
            end_addr = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
        } else if (strncmp(argv[i], "profile=", 8) == 0) {
            profile_path = argv[i] + 8;
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            path = argv[i] + 4;
        } else {
            fprintf(stderr, "insn_count: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    if (!begin_addr || !end_addr || !path) {
        fprintf(stderr, "insn_count: needs begin=ADDR,end=ADDR,out=FILE\n");
        return -1;
    }
    out = fopen(path, "w");
    if (!out) {
        perror("insn_count: out");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    return 0;
}
