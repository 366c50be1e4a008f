/*
 * test_atomic.c - saving is atomic (docs/memory-and-errors.md: saving writes a temporary
 * file and renames it). A child process saves in a loop, alternating two versions, and is killed
 * with SIGKILL at a random moment mid-save, several times; after each kill every target
 * must load cleanly and hold exactly one of the two versions (never a mix, never a
 * truncated file), and the directory may hold nothing but the targets and at most one
 * "<target>.tmp" each (the documented temporary, replaced by the next save).
 */
#include "rb.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FEAT 512 /* Linear(512, 512): 1 MB of weights; the dict below holds 2 MB more */

/* Every element of @p t equals @p v. */
static bool all_equal(const Tensor *t, float v)
{
    int64_t n = tensor_numel(t);
    float *buf = malloc(sizeof(float) * (size_t)n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(tensor_to_array(t, buf), 0);
    bool ok = true;
    for (int64_t i = 0; i < n && ok; i++)
        ok = buf[i] == v;
    free(buf);
    return ok;
}

/* A dict of two 1 MB tensors filled with @p v and metadata version = v. */
static NnStateDict *version_dict(float v)
{
    NnStateDict *sd = nn_state_dict_new();
    ck_assert_ptr_nonnull(sd);
    ck_assert_int_eq(nn_state_dict_set(sd, "a", OK(tensor_full(SHAPE(512, 512), 2, v))), 0);
    ck_assert_int_eq(nn_state_dict_set(sd, "b", OK(tensor_full(SHAPE(256, 1024), 2, v))), 0);
    ck_assert_int_eq(nn_state_dict_set_meta(sd, "version", v == 1.0f ? "1" : "2"), 0);
    return sd;
}

/* Write version @p v of all three files. */
static int save_version(float v, Module *model, Optimizer *opt, NnStateDict *const dicts[2],
                        const char *dpath, const char *mpath, const char *opath)
{
    Var *w = nn_get_parameter(model, "weight"), *b = nn_get_parameter(model, "bias");
    if (tensor_fill_(var_data(w), v) || tensor_fill_(var_data(b), v))
        return -1;
    if (optim_set_lr(opt, -1, v))
        return -1;
    if (nn_safetensors_save(dicts[v == 1.0f ? 0 : 1], dpath))
        return -1;
    if (nn_save(model, mpath))
        return -1;
    return optim_save(opt, opath);
}

/* After a kill: each file loads and holds one whole version. */
static void check_files(const char *dpath, const char *mpath, const char *opath)
{
    NnStateDict *sd = nn_safetensors_load(dpath);
    ck_assert_msg(sd != NULL, "the dict file does not load: %s", strata_last_error());
    const char *ver = nn_state_dict_get_meta(sd, "version");
    ck_assert_ptr_nonnull(ver);
    float v = strcmp(ver, "1") == 0 ? 1.0f : 2.0f;
    ck_assert_int_eq(sd->num_tensors, 2);
    ck_assert_msg(all_equal(nn_state_dict_get(sd, "a"), v) &&
                      all_equal(nn_state_dict_get(sd, "b"), v),
                  "the dict file mixes versions");
    nn_state_dict_free(sd);

    Module *m = nn_linear(FEAT, FEAT, true);
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(nn_load(m, mpath, true) == 0, "the model file does not load: %s",
                  strata_last_error());
    float mv = tensor_get(var_data(nn_get_parameter(m, "bias")), SHAPE(0));
    ck_assert(mv == 1.0f || mv == 2.0f);
    ck_assert_msg(all_equal(var_data(nn_get_parameter(m, "weight")), mv) &&
                      all_equal(var_data(nn_get_parameter(m, "bias")), mv),
                  "the model file mixes versions");

    Optimizer *opt = optim_sgd(m, 0.5f, 0.9f);
    ck_assert_ptr_nonnull(opt);
    ck_assert_msg(optim_load(opt, opath) == 0, "the optimizer file does not load: %s",
                  strata_last_error());
    float lr = optim_get_lr(opt, 0);
    ck_assert(lr == 1.0f || lr == 2.0f);
    optim_free(opt);
    nn_module_free(m);
}

/* Only the three targets and their documented ".tmp" siblings may exist. */
static int check_directory(const char *dir)
{
    static const char *allowed[] = {"d.safetensors", "d.safetensors.tmp", "m.safetensors",
                                    "m.safetensors.tmp", "o.safetensors",
                                    "o.safetensors.tmp"};
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int tmps = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        bool ok = false;
        for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
            ok = ok || strcmp(e->d_name, allowed[i]) == 0;
        ck_assert_msg(ok, "stray file %s/%s after a killed save", dir, e->d_name);
        tmps += strstr(e->d_name, ".tmp") != NULL;
    }
    closedir(d);
    return tmps;
}

START_TEST(save_killed_mid_write_is_atomic)
{
    BEGIN;
    const char *dpath = strdup(rb_path("d.safetensors"));
    const char *mpath = strdup(rb_path("m.safetensors"));
    const char *opath = strdup(rb_path("o.safetensors"));
    ck_assert(dpath && mpath && opath);
    NnStateDict *dicts[2] = {version_dict(1.0f), version_dict(2.0f)};
    Module *model = nn_linear(FEAT, FEAT, true);
    ck_assert_ptr_nonnull(model);
    Optimizer *opt = optim_sgd(model, 1.0f, 0.9f);
    ck_assert_ptr_nonnull(opt);
    /* one step, so the optimizer file carries a 1 MB momentum buffer */
    Var *x = OKV(var_new(OK(tensor_ones(SHAPE(2, FEAT), 2)), false));
    ck_assert_int_eq(var_backward(var_sum(nn_forward(model, x), NULL, 0, false)), 0);
    ck_assert_int_eq(optim_step(opt), 0);
    ck_assert_int_eq(save_version(1.0f, model, opt, dicts, dpath, mpath, opath), 0);

    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int kills = 0, mid_write = 0;
    for (int round = 0; round < 40 && (kills < 6 || mid_write < 3); round++) {
        int pipefd[2];
        ck_assert_int_eq(pipe(pipefd), 0);
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(pipefd[0]);
            for (int i = 0;; i++) {
                if (save_version(i % 2 ? 1.0f : 2.0f, model, opt, dicts, dpath, mpath, opath))
                    _exit(3);
                if (i == 0 && write(pipefd[1], "s", 1) != 1)
                    _exit(4);
            }
        }
        close(pipefd[1]);
        char c;
        ck_assert_int_eq(read(pipefd[0], &c, 1), 1); /* the child finished one round */
        close(pipefd[0]);
        if (round % 2 == 0) {
            /* a random moment: 0-20 ms into the save loop */
            struct timespec ts = {0, (long)(rand_r(&seed) % 20000) * 1000L};
            nanosleep(&ts, NULL);
        } else {
            /* the moment a temporary file exists (polled for at most 2 s), so that some
             * kills surely land mid-write even on a loaded machine */
            char tmp[3][600];
            snprintf(tmp[0], sizeof tmp[0], "%s.tmp", dpath);
            snprintf(tmp[1], sizeof tmp[1], "%s.tmp", mpath);
            snprintf(tmp[2], sizeof tmp[2], "%s.tmp", opath);
            int which = rand_r(&seed) % 3;
            for (int spin = 0; spin < 20000; spin++) {
                if (access(tmp[which], F_OK) == 0)
                    break;
                struct timespec ts = {0, 100000L}; /* 0.1 ms */
                nanosleep(&ts, NULL);
            }
        }
        kill(pid, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "the saving child ended by itself (status %d)", status);
        kills++;
        mid_write += check_directory(rb_dir()) > 0;
        check_files(dpath, mpath, opath);
    }
    ck_assert_int_ge(kills, 6);
    ck_assert_msg(mid_write >= 1, "no kill landed mid-write in %d tries", kills);
    ck_assert_int_le(kills, 40);
    /* the next save replaces a stale temporary: the directory is clean again */
    ck_assert_int_eq(save_version(2.0f, model, opt, dicts, dpath, mpath, opath), 0);
    ck_assert_int_eq(check_directory(rb_dir()), 0);
    check_files(dpath, mpath, opath);

    optim_free(opt);
    nn_module_free(model);
    nn_state_dict_free(dicts[0]);
    nn_state_dict_free(dicts[1]);
    free((void *)dpath);
    free((void *)mpath);
    free((void *)opath);
    rb_dir_remove();
    END;
}
END_TEST

void add_atomic_tests(Suite *s)
{
    GRADED_TIMED(s, save_killed_mid_write_is_atomic, 1, 60.0);
}
