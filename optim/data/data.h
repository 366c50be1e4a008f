/**
 * @file data.h
 * @brief Week 4, the data part: IDX and CSV readers, datasets, per-example transforms
 *        and the DataLoader.
 *
 * Part of optim.h. Data loading needs no optimizer: a Batch is a Var and a Tensor.
 */
#ifndef STRATA_OPTIM_DATA_H
#define STRATA_OPTIM_DATA_H

#include "autograd.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup optim
 *  @{ */

/* ------------------------------------------------------------------------------------ */
/** @name IDX files and datasets
 *  @{ */

/** Most dims an IDX file may declare. */
#define DATA_IDX_MAX_DIMS 4

/**
 * @brief Read an IDX file (the MNIST format): magic 0x00 0x00 TYPE NDIM, then
 *        NDIM big-endian uint32 sizes, then the elements big-endian. TYPE is 0x08
 *        (uint8), 0x09 (int8), 0x0B (int16), 0x0C (int32), 0x0D (float32) or 0x0E
 *        (float64). Gzip files are inflated through zlib; plain files are read as they
 *        are.
 * @param[in] path the file.
 * @return A new float tensor of the declared shape with the values converted (uint8
 *         images hold 0..255), or NULL with an error naming @p path and the reason, in
 *         these words: a missing file, "cannot open"; a bad magic, "bad magic" (an
 *         unknown TYPE byte too: the type is part of the magic); more than
 *         DATA_IDX_MAX_DIMS dims, e.g. "5 dims"; a zero-sized dim, "size 0"; a file that
 *         ends inside its header, "truncated header"; "truncated" when the data are
 *         shorter than the header says, "trailing" bytes when longer.
 */
STRATA_API Tensor *data_read_idx(const char *path);

/** A data set: N examples, each an input and a target. */
typedef struct Dataset Dataset;

/**
 * @brief A data set over in-memory tensors: example i is (x[i], y[i]).
 * @param[in] x inputs, [N, ...] (retained).
 * @param[in] y targets, [N] or [N, ...] (retained); class indices as floats.
 * @return A new dataset (data_dataset_free()) or NULL with an error (N differs, ndim 0).
 */
STRATA_API Dataset *data_tensor_dataset_new(Tensor *x, Tensor *y);

/** Options of data_mnist_load(). */
typedef struct DataMnistOptions {
    bool flatten;     /**< inputs [N, 784] instead of [N, 1, 28, 28] */
    bool standardize; /**< subtract @ref mean and divide by @ref std after scaling to [0,1] */
    float mean;       /**< the mean to subtract (e.g. 0.2860 for Fashion-MNIST train) */
    float std;        /**< the standard deviation to divide by (> 0) */
    int64_t limit;    /**< keep only the first @ref limit examples (0: all) */
} DataMnistOptions;

/**
 * @brief Load an MNIST-style pair of IDX files from @p dir: "train-images-idx3-ubyte"
 *        and "train-labels-idx1-ubyte" (or "t10k-..." when @p train is false), with or
 *        without ".gz". Images are scaled to [0, 1] (x / 255) and optionally
 *        standardized; labels become float class indices. The pixels' bytes are kept
 *        beside the floats (a quarter more memory): a data loader makes each batch's
 *        rows from them, the same floats from a quarter of the memory traffic, until
 *        data_dataset_inputs() hands the floats out (from then on the loader copies
 *        them, so changes made to them in place are seen).
 * @param[in] dir the directory, e.g. "/usr/share/datasets/fashion-mnist".
 * @param[in] train the training split (else the test split).
 * @param[in] opts options, or NULL for [N, 1, 28, 28] in [0, 1].
 * @return A new dataset or NULL with an error: missing files (with a hint to install
 *         dataset-fashion-mnist), malformed files, image and label counts that differ,
 *         labels that are not 1-D.
 */
STRATA_API Dataset *data_mnist_load(const char *dir, bool train, const DataMnistOptions *opts);

/** @brief Number of examples, or -1 with an error for NULL. */
STRATA_API int64_t data_dataset_size(const Dataset *ds);
/** @brief The inputs tensor [N, ...] (borrowed), or NULL. It may be written into in place:
 *         a data loader's batches follow it (a data set loaded by data_mnist_load stops
 *         making rows from its bytes once this is called). */
STRATA_API Tensor *data_dataset_inputs(const Dataset *ds);
/** @brief The targets tensor [N, ...] (borrowed), or NULL. */
STRATA_API Tensor *data_dataset_targets(const Dataset *ds);
/** @brief Destroy @p ds, releasing its tensors and its transform. NULL is ignored. */
STRATA_API void data_dataset_free(Dataset *ds);

/* ------------------------------------------------------------------------------------ */
/** @name Text corpora (character level)
 *  A text file as a sequence of byte tokens for next-character prediction: the
 *  vocabulary is the set of bytes that occur (numbered in byte order), the first part
 *  of the text is the training split and the last @p val_fraction the validation split
 *  (as nanoGPT's and Modula's Shakespeare loaders). examples/hello_gpt trains on the
 *  King James Bible (`make corpus`, examples/data/README.md).
 *  @{ */

/** A loaded text corpus. */
typedef struct TextCorpus TextCorpus;

/**
 * @brief Read the whole of @p path and build its vocabulary and splits.
 * @param[in] path a text file.
 * @param[in] val_fraction the share of the text (its end) kept for validation, in (0, 1);
 *            the validation split has floor(length * val_fraction) bytes.
 * @return A new corpus (data_text_free()), or NULL with an error naming the file
 *         (missing, unreadable, too short for two splits of 2 characters).
 */
STRATA_API TextCorpus *data_text_load(const char *path, double val_fraction);
/** @brief Destroy @p c. NULL is ignored. */
STRATA_API void data_text_free(TextCorpus *c);
/** @brief The number of distinct characters (tokens 0 .. size-1), or -1 for NULL. */
STRATA_API int data_text_vocab_size(const TextCorpus *c);
/** @brief The length in characters of the validation split (@p val) or the training
 *         split, or -1 for NULL. */
STRATA_API int64_t data_text_split_length(const TextCorpus *c, bool val);
/**
 * @brief Tokens of the first @p n characters of @p s, as floats (tensor.h's index
 *        convention).
 * @param[in] c the corpus. @param[in] s the text. @param[in] n characters to encode.
 * @param[out] out room for @p n floats; untouched on failure.
 * @return 0, or -1 with an error naming the first character outside the vocabulary.
 */
STRATA_API int data_text_encode(const TextCorpus *c, const char *s, int64_t n, float *out);
/**
 * @brief The characters of @p n tokens, NUL-terminated.
 * @param[in] c the corpus. @param[in] tokens the tokens. @param[in] n how many.
 * @param[out] out room for @p n + 1 chars; untouched on failure.
 * @return 0, or -1 with an error naming the first token outside [0, vocab).
 */
STRATA_API int data_text_decode(const TextCorpus *c, const float *tokens, int64_t n, char *out);
/**
 * @brief A batch of windows: row b of @p x holds the tokens at starts[b] ..
 *        starts[b] + context - 1 of the chosen split, row b of @p y the tokens one
 *        further on (the next character of each position).
 * @param[in] c the corpus.
 * @param[in] val the validation split (else the training split).
 * @param[in] starts @p batch start offsets into the split, each in
 *            [0, length - context - 1].
 * @param[in] batch rows (>= 1).
 * @param[in] context tokens per row (>= 1, < the split's length).
 * @param[out] x, y new [batch, context] tensors (tensor.h's ownership rule); untouched
 *             on failure.
 * @return 0, or -1 with an error (sizes, a window outside the split).
 */
STRATA_API int data_text_batch(const TextCorpus *c, bool val, const int64_t *starts, int64_t batch,
                               int64_t context, Tensor **x, Tensor **y);
/**
 * @brief data_text_batch() at @p batch start offsets drawn uniformly from the split
 *        with the seeded generator (strata_manual_seed()), so a seeded run sees the
 *        same batches.
 * @return 0, or -1 with an error.
 */
STRATA_API int data_text_random_batch(const TextCorpus *c, bool val, int64_t batch, int64_t context,
                                      Tensor **x, Tensor **y);
/** @} */

/** Options of data_csv_load(). */
typedef struct DataCsvOptions {
    const char *label_column; /**< the target column's header name; NULL: use @ref label_index */
    int label_index;          /**< the target column's index when label_column is NULL
                                   (negative counts from the end: -1 is the last column) */
    char delimiter;           /**< the field separator; '\0' means ',' */
} DataCsvOptions;

/**
 * @brief Load a CSV file of numbers with a header line: every column but the label
 *        becomes an input feature (x [N, columns - 1], in file order), the label column
 *        the target (y [N]). Blank lines are skipped; fields may have surrounding spaces.
 * @param[in] path the file.
 * @param[in] opts options, or NULL for the last column as the label and ','.
 * @return A new dataset (data_dataset_free()) or NULL with an error naming the file and,
 *         for a malformed row, its line number and what is wrong ("line 7: 3 fields,
 *         expected 4", "line 9, column 'age': 'abc' is not a number"), an unknown label
 *         column, or a file without data rows.
 */
STRATA_API Dataset *data_csv_load(const char *path, const DataCsvOptions *opts);

/**
 * @brief The image dataset over a pair of IDX files: images [N, H, W] (or [N, C, H, W])
 *        scaled to [0, 1] as [N, C, H, W] floats, labels [N] as float class indices.
 * @return A new dataset or NULL with an error (see data_read_idx(); counts that differ).
 */
STRATA_API Dataset *data_idx_dataset(const char *images_path, const char *labels_path);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Transforms
 *  A transform rewrites one example's input when the DataLoader assembles a batch, so
 *  random augmentation differs at every epoch. Random transforms draw from a generator
 *  seeded by (loader seed, epoch, position in the epoch): runs are reproducible and the
 *  global generator is not touched.
 *  @{ */

/** A per-example input transform (see data_dataset_set_transform()). */
typedef struct DataTransform DataTransform;

/** @brief x = (x - mean) / std on every element (std > 0, else NULL with an error). */
STRATA_API DataTransform *data_transform_normalize(float mean, float std);
/** @brief Flatten each example to one dim (an image [C, H, W] becomes [C*H*W]). */
STRATA_API DataTransform *data_transform_flatten(void);
/**
 * @brief Pad an image [C, H, W] with @p padding zeros on each side, then crop a random
 *        H x W window (torchvision's RandomCrop(size, padding) with size = the input's).
 * @return A new transform, or NULL with an error for a negative padding.
 */
STRATA_API DataTransform *data_transform_random_crop(int padding);
/** @brief Mirror an image [C, H, W] left-right with probability @p p (in [0, 1]). */
STRATA_API DataTransform *data_transform_random_hflip(float p);
/**
 * @brief Apply @p n transforms in order.
 * @param[in] transforms the transforms; ownership of every one passes to the result (they
 *            are freed even if this call fails).
 * @param[in] n how many (>= 1).
 * @return A new transform or NULL with an error (n < 1, a NULL entry).
 */
STRATA_API DataTransform *data_transform_compose(DataTransform **transforms, int n);
/** @brief Destroy @p t (and a composition's parts). NULL is ignored. */
STRATA_API void data_transform_free(DataTransform *t);

/**
 * @brief Attach @p t to @p ds, replacing (and freeing) any previous transform; NULL
 *        removes it. Ownership of @p t passes to @p ds (freed on error too).
 * @return 0, or -1 with an error (NULL @p ds, or @p t does not fit the examples' shape,
 *         e.g. a crop on 1-D examples).
 */
STRATA_API int data_dataset_set_transform(Dataset *ds, DataTransform *t);

/**
 * @brief Apply @p t to one example (what the loader does for each).
 * @param[in] t the transform.
 * @param[in,out] x the example's floats (numel of @p shape), rewritten in place.
 * @param[in,out] shape the example's shape (without the batch dim), updated by flatten.
 * @param[in,out] ndim its number of dims.
 * @param[in,out] rng the generator state for random transforms (any value; advanced).
 * @return 0, or -1 with an error.
 */
STRATA_API int data_transform_apply(const DataTransform *t, float *x, int64_t *shape, int *ndim,
                                    uint64_t *rng);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name DataLoader
 *  @{ */

/** Options of data_loader_new(). */
typedef struct DataLoaderOptions {
    int64_t batch_size; /**< examples per batch (>= 1) */
    bool shuffle;       /**< a new random order each epoch */
    uint64_t seed;      /**< the order of epoch e is a permutation seeded by seed and e */
    bool drop_last;     /**< drop the last batch if it is smaller than batch_size */
} DataLoaderOptions;

/** One batch. Its objects are owned by the loader (see data_loader_next()). */
typedef struct Batch {
    Var *x;        /**< inputs [B, ...], requires_grad false */
    Tensor *y;     /**< targets [B, ...] */
    int64_t size;  /**< B */
    int64_t index; /**< which batch of the epoch (0-based) */
} Batch;

/** Iterates over a dataset in batches. */
typedef struct DataLoader DataLoader;

/**
 * @brief A loader over @p ds.
 * @param[in] ds the examples (borrowed: the dataset must outlive the loader).
 * @param[in] opts options; NULL is an error, as is batch_size < 1.
 * @return A new loader (data_loader_free()) or NULL with an error.
 */
STRATA_API DataLoader *data_loader_new(Dataset *ds, const DataLoaderOptions *opts);

/**
 * @brief The next batch of the current epoch. The shuffled order of epoch e is
 *        strata_randperm() under seed (opts.seed, e), drawn without disturbing the
 *        global generator, so it is the same in every run.
 * @param[in,out] loader the loader.
 * @param[out] batch receives the batch; its x and y are borrowed from the loader, valid
 *             until the next call or data_loader_free() (retain them to keep them).
 * @return true with a batch; false at the end of the epoch (the next call begins the
 *         next epoch) or on error (see strata_last_error()). data_loader_failed() tells
 *         which, as ferror() does after a read loop:
 * @code
 * while (data_loader_next(loader, &b)) { ... }
 * if (data_loader_failed(loader)) { fprintf(stderr, "%s\n", strata_last_error()); ... }
 * @endcode
 */
STRATA_API bool data_loader_next(DataLoader *loader, Batch *batch);

/**
 * @brief Whether the last data_loader_next() on @p loader returned false because of an
 *        error (its message is in the error slot) rather than at the end of an epoch.
 * @return true after a failed call (or for a NULL loader, with an error); false after a
 *         batch, at the end of an epoch, and before the first call.
 */
STRATA_API bool data_loader_failed(const DataLoader *loader);

/**
 * @brief A sampler: the order of one epoch. Fill @p order (room for @p capacity indices,
 *        each in [0, @p n)) and return how many were written (fewer for a subset,
 *        repeats for sampling with replacement), or -1 with an error.
 */
typedef int64_t (*DataSampler)(int64_t *order, int64_t capacity, int64_t n, int64_t epoch,
                               void *ctx);

/**
 * @brief A collate function: build one batch from the examples @p indices of @p ds.
 *        Return new tensors in @p x and @p y (first dim = batch; a scope is open, so
 *        ordinary tensor_* results are fine), or -1 with an error.
 */
typedef int (*DataCollate)(const Dataset *ds, const int64_t *indices, int64_t count,
                           Tensor **x, Tensor **y, void *ctx);

/**
 * @brief Use @p sampler (with @p ctx, borrowed) for the order of every epoch from the
 *        next one on, instead of shuffle/sequential; NULL restores the default.
 * @return 0, or -1 with an error for a NULL loader.
 */
STRATA_API int data_loader_set_sampler(DataLoader *loader, DataSampler sampler, void *ctx);

/**
 * @brief Build batches with @p collate (with @p ctx, borrowed) instead of stacking the
 *        examples and applying the dataset's transform; NULL restores the default.
 * @return 0, or -1 with an error for a NULL loader.
 */
STRATA_API int data_loader_set_collate(DataLoader *loader, DataCollate collate, void *ctx);

/** @brief Batches per epoch (counting drop_last; with a sampler, of the epoch being
 *         iterated, which calls the sampler if the epoch has not started), or -1. */
STRATA_API int64_t data_loader_num_batches(const DataLoader *loader);
/** @brief The epoch being iterated (0 at first), or -1 with an error. */
STRATA_API int64_t data_loader_epoch(const DataLoader *loader);
/**
 * @brief Restart at the beginning of epoch @p epoch (to resume a run).
 * @return 0, or -1 with an error (negative epoch).
 */
STRATA_API int data_loader_set_epoch(DataLoader *loader, int64_t epoch);
/**
 * @brief The example indices of the current epoch, in order (borrowed; @p n receives the
 *        count). NULL with an error for a NULL loader.
 */
STRATA_API const int64_t *data_loader_order(const DataLoader *loader, int64_t *n);
/** @brief Destroy @p loader and the batch it still holds. NULL is ignored. */
STRATA_API void data_loader_free(DataLoader *loader);
/** @} */


/** @} */ /* end of group optim */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_OPTIM_DATA_H */
