/*
 * test_io.c - I/O failure injection: every file call of each scenario made to fail in
 * turn, in each way a file can fail (a write that stops half way, a read that ends
 * early, ENOSPC, EIO; faults.h). The data readers' allocations are walked here too. A failed save must leave the previous file as it was
 * and no other file behind (the walk compares every file of the test's directory).
 */
#include "scenarios.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

START_TEST(io_state_dict_save_and_load)
{
    MEM_BEGIN;
    FileCtx c = file_ctx("model.safetensors");
    FaultScenario save = {"nn_save", save_call, file_state, &c, NULL};
    fault_walk_io(&save); /* the first save: no previous file */
    perturb(&c);
    fault_walk_io(&save); /* over the previous file */
    perturb(&c);
    FaultScenario load = {"nn_load", load_call, file_state, &c, NULL};
    fault_walk_io(&load);
    file_free(&c);
    MEM_END;
}
END_TEST

START_TEST(io_checkpoint_save_and_resume)
{
    MEM_BEGIN;
    FileCtx c = file_ctx("run.ckpt");
    FaultScenario save = {"train_checkpoint_save", checkpoint_save_call, file_state, &c, NULL};
    fault_walk_io(&save);
    perturb(&c);
    fault_walk_io(&save);
    perturb(&c);
    FaultScenario load = {"train_checkpoint_load", checkpoint_load_call, file_state, &c, NULL};
    fault_walk_io(&load);
    file_free(&c);
    MEM_END;
}
END_TEST

/* ----------------------------------------------------------------- metrics log --- */

static int log_call(void *ctx)
{
    (void)ctx;
    TrainLog *log = train_log_open(fault_path("metrics.csv"));
    TrainStats st = {0};
    st.loss = 0.5;
    st.accuracy = 0.75;
    int rc = log ? 0 : -1;
    for (int e = 1; e <= 2 && rc == 0; e++)
        rc = train_log_append(log, e, &st, &st, 0.1f, 1.0);
    train_log_close(log);
    return rc;
}

/* A log keeps what it wrote before a failed line (it is not rewritten atomically). */
static void log_remove(void *ctx)
{
    (void)ctx;
    remove(fault_path("metrics.csv"));
}

START_TEST(io_metrics_log)
{
    MEM_BEGIN;
    FaultScenario sc = {"train_log_open and append", log_call, NULL, NULL, log_remove};
    fault_walk_io(&sc);
    FILE *f = fopen(fault_path("metrics.csv"), "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, f))
        lines++;
    fclose(f);
    ck_assert_int_eq(lines, 3); /* the header and two epochs */
    fault_dir_remove();
    MEM_END;
}
END_TEST

/* ------------------------------------------------------------- CSV and IDX data --- */

static int csv_call(void *ctx)
{
    (void)ctx;
    Dataset *ds = data_csv_load(fault_path("data.csv"), NULL);
    int rc = ds && data_dataset_size(ds) == 3 ? 0 : -1;
    data_dataset_free(ds);
    return rc;
}

START_TEST(io_csv_load)
{
    MEM_BEGIN;
    FILE *f = fopen(fault_path("data.csv"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("a,b,label\n1,2,0\n3,4,1\n\n5,6,2\n", f);
    fclose(f);
    FaultScenario sc = {"data_csv_load", csv_call, NULL, NULL, NULL};
    fault_walk_io(&sc);
    fault_walk_alloc(&sc);
    fault_dir_remove();
    MEM_END;
}
END_TEST

/* The character corpus: read whole, then its vocabulary built. */
static int text_call(void *ctx)
{
    (void)ctx;
    TextCorpus *c = data_text_load(fault_path("corpus.txt"), 0.25);
    int rc = c && data_text_vocab_size(c) == 8 ? 0 : -1;
    data_text_free(c);
    return rc;
}

START_TEST(io_text_load)
{
    MEM_BEGIN;
    FILE *f = fopen(fault_path("corpus.txt"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("abracadabra, cadabra!", f); /* 8 distinct bytes */
    fclose(f);
    FaultScenario sc = {"data_text_load", text_call, NULL, NULL, NULL};
    fault_walk_io(&sc);
    fault_walk_alloc(&sc); /* the message of a failed allocation must say "out of memory" */
    fault_dir_remove();
    MEM_END;
}
END_TEST

/* An IDX file of 3 images 2x2 (bytes 0..11), plain or gzip'd. */
static void write_idx(const char *path, bool gz)
{
    unsigned char bytes[4 + 12 + 12];
    const unsigned char head[16] = {0, 0, 0x08, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
    memcpy(bytes, head, 16);
    for (int i = 0; i < 12; i++)
        bytes[16 + i] = (unsigned char)i;
    if (gz) {
        gzFile g = gzopen(path, "wb");
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(gzwrite(g, bytes, 28), 28);
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(bytes, 1, 28, f), 28);
        fclose(f);
    }
}

static int idx_call(void *ctx)
{
    Tensor *t = data_read_idx(fault_path(ctx));
    return t && t->ndim == 3 && t->shape[0] == 3 && t->data[11] == 11.0f ? 0 : -1;
}

START_TEST(io_idx_read)
{
    MEM_BEGIN;
    write_idx(fault_path("images.idx"), false);
    write_idx(fault_path("images.idx.gz"), true);
    FaultScenario raw = {"data_read_idx", idx_call, NULL, "images.idx", NULL};
    fault_walk_io(&raw);
    fault_walk_alloc(&raw);
    FaultScenario gz = {"data_read_idx (gzip)", idx_call, NULL, "images.idx.gz", NULL};
    fault_walk_io(&gz);
    fault_walk_alloc(&gz);
    fault_dir_remove();
    MEM_END;
}
END_TEST

/* ----------------------------------------------------------------- the L2L store --- */

static int store_sync_call(void *ctx) { return l2l_store_sync(((L2LCtx *)ctx)->store); }

START_TEST(io_l2l_store)
{
    MEM_BEGIN;
    L2LCtx c = {{mlp_ctx(), NULL}, NULL, NULL};
    c.s.opt = optim_adam(c.s.net.model, 0.01f);
    ck_assert_ptr_nonnull(c.s.opt);
    c.trainer = l2l_trainer(&c);
    FaultScenario create = {"l2l_store_create", store_create_call, l2l_state, &c, NULL};
    fault_walk_io(&create);
    l2l_store_free(c.store);
    fault_walk_io(&create); /* over the previous file */
    l2l_store_free(c.store);
    FaultScenario open = {"l2l_store_open", store_open_call, l2l_state, &c, NULL};
    fault_walk_io(&open);
    FaultScenario sync = {"l2l_store_sync", store_sync_call, l2l_state, &c, NULL};
    fault_walk_io(&sync);
    l2l_free(c.trainer);
    l2l_store_free(c.store);

    /* The step (gradients only: see test_alloc.c): the flush at its end. */
    Optimizer *opt = c.s.opt;
    c.s.opt = NULL;
    c.store = l2l_store_create(fault_path("grads.safetensors"), c.s.net.model, NULL);
    ck_assert_msg(c.store != NULL, "%s", strata_last_error());
    c.trainer = l2l_trainer(&c);
    c.s.opt = opt;
    FaultScenario step = {"l2l_step with store", l2l_call, l2l_state, &c, l2l_drop_grads};
    fault_walk_io(&step);
    l2l_free(c.trainer);
    l2l_store_free(c.store);
    optim_free(c.s.opt);
    net_free(&c.s.net);
    fault_dir_remove();
    MEM_END;
}
END_TEST

void add_io_tests(Suite *s)
{
    GRADED_TIMED(s, io_state_dict_save_and_load, 1, 60);
    GRADED_TIMED(s, io_checkpoint_save_and_resume, 1, 60);
    GRADED_TIMED(s, io_metrics_log, 1, 60);
    GRADED_TIMED(s, io_csv_load, 1, 60);
    GRADED_TIMED(s, io_text_load, 1, 60);
    GRADED_TIMED(s, io_idx_read, 1, 60);
    GRADED_TIMED(s, io_l2l_store, 1, 60);
}
