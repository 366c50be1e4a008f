/**
 * @file nn.h
 * @brief Week 3: the Module system (parameters, buffers, children, hooks, state dicts,
 *        safetensors files, repr), initialisation, and the layer zoo.
 *
 * A Module unifies three things (the Clownpiece-torch week-3 design, PyTorch's
 * torch.nn.Module):
 * - **computation**: a forward function, given by the module's ModuleType (a vtable);
 * - **state**: parameters (Vars that require grad) and buffers (Tensors, e.g. BatchNorm's
 *   running statistics), kept by name in registration order;
 * - **children**: sub-modules, owned by their parent, so the tree can be walked to
 *   collect every parameter under a dotted name ("blocks.0.fc1.weight").
 *
 * Conventions (see docs/conventions.md):
 * - **Modules are not reference counted and not scoped.** A constructor (nn_linear(),
 *   nn_module_new(), ...) gives the caller the module; nn_module_free() destroys it and
 *   its whole subtree. A module registered as a child belongs to its parent.
 * - **Vars and Tensors** follow tensor.h: every `Var *` / `Tensor *` returned by a
 *   computing function (nn_forward(), the losses) is fresh, held by the open scope or,
 *   with no scope open, by the caller. A module retains the parameters and buffers it
 *   keeps. Functions named `_get` or documented "borrowed" return pointers that stay
 *   valid while the module lives.
 * - **Errors** follow tensor.h: NULL / -1 / NAN with a message in strata_last_error()
 *   naming the function; a NULL argument propagates the first message. Anything that
 *   changes a module validates first and changes nothing on failure.
 * - **Indices** (class targets, embedding indices) are float32 tensors holding integers.
 */
#ifndef STRATA_NN_H
#define STRATA_NN_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup nn Week 3: nn
 * @brief Modules, state dicts and safetensors files, hooks, init, layers, losses.
 * @{
 */

/** A node of the module tree (see struct Module). */
typedef struct Module Module;

/* ------------------------------------------------------------------------------------ */
/** @name Module types (how to define your own layer)
 *
 *  A module's behaviour comes from a ModuleType, usually a `static const` table:
 *  @code
 *  static Var *block_forward(Module *self, Var *x)
 *  {
 *      Var *h = nn_forward(nn_get_submodule(self, "fc1"), x);
 *      h = nn_forward(nn_get_submodule(self, "act"), h);
 *      return nn_forward(nn_get_submodule(self, "fc2"), h);
 *  }
 *  static const ModuleType MLP_BLOCK = { "MLPBlock", block_forward, NULL, NULL, NULL };
 *
 *  Module *mlp_block(int64_t dim, int64_t hidden)
 *  {
 *      Module *m = nn_module_new(&MLP_BLOCK, NULL);
 *      nn_register_module(m, "fc1", nn_linear(dim, hidden, true));
 *      nn_register_module(m, "act", nn_gelu());
 *      nn_register_module(m, "fc2", nn_linear(hidden, dim, true));
 *      return m;
 *  }
 *  @endcode
 *  @{ */

/** The vtable of a kind of module. Must outlive every module that uses it. */
typedef struct ModuleType {
    /** The class name shown by nn_repr(), e.g. "Linear". Required. */
    const char *name;
    /**
     * One-input forward (may be NULL if @ref forward_n is given). Returns a fresh Var
     * (never its input itself) or NULL with an error.
     */
    Var *(*forward)(Module *self, Var *input);
    /**
     * Several-input forward (losses: input and target; attention: query, key, value).
     * NULL if the module takes exactly one input. When both are set, nn_forward_n()
     * uses this one.
     */
    Var *(*forward_n)(Module *self, Var *const *inputs, int n);
    /**
     * Optional: write the text inside the parentheses of the repr ("in_features=4,
     * out_features=2, bias=True") into @p buf like snprintf, returning the length it
     * wanted. NULL means empty.
     */
    int (*extra_repr)(const Module *self, char *buf, size_t size);
    /** Optional: free the module's state pointer when the module is freed. */
    void (*free_state)(void *state);
} ModuleType;
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name The module tree
 *  @{ */

/** A named parameter slot; its var is NULL for an absent optional parameter. */
typedef struct NnParameterSlot {
    char *name; /**< local name, e.g. "weight" (owned) */
    Var *var;   /**< the parameter (retained), or NULL when registered as absent */
} NnParameterSlot;

/** A named buffer slot. */
typedef struct NnBufferSlot {
    char *name;      /**< local name, e.g. "running_mean" (owned) */
    Tensor *tensor;  /**< the buffer (retained), or NULL when registered as absent */
    bool persistent; /**< whether it is part of the state dict */
} NnBufferSlot;

/** A named child slot. */
typedef struct NnChildSlot {
    char *name;     /**< local name, e.g. "fc1" or "0" (owned) */
    Module *module; /**< the child (owned by the parent) */
} NnChildSlot;

/** Forward pre-hook: may replace entries of @p inputs (with fresh Vars); 0 or -1 (error). */
typedef int (*NnForwardPreHook)(Module *module, Var **inputs, int n, void *user);
/**
 * Forward hook: returns @p output itself to keep it, a fresh Var to replace it, or NULL
 * (with an error) to fail the forward call.
 */
typedef Var *(*NnForwardHook)(Module *module, Var *const *inputs, int n, Var *output,
                              void *user);

/** A registered hook. */
typedef struct NnHookSlot {
    int64_t handle;       /**< what the register function returned (> 0) */
    NnForwardPreHook pre; /**< set for a pre-hook, else NULL */
    NnForwardHook post;   /**< set for a forward hook, else NULL */
    void *user;           /**< the user pointer passed back to the hook */
} NnHookSlot;

/**
 * A module. Read it through the functions below; the fields are public so that a
 * debugger and a student can see the tree. Every array is in registration order.
 */
struct Module {
    const ModuleType *type;    /**< the vtable (borrowed, static) */
    void *state;               /**< the type's private data (freed by type->free_state) */
    Module *parent;            /**< the owning module, NULL for a root */
    bool training;             /**< training mode (true after construction) */
    NnParameterSlot *params;   /**< parameters */
    int num_params;            /**< used entries of @ref params */
    int cap_params;            /**< allocated entries of @ref params */
    NnBufferSlot *buffers;     /**< buffers */
    int num_buffers;           /**< used entries of @ref buffers */
    int cap_buffers;           /**< allocated entries of @ref buffers */
    NnChildSlot *children;     /**< children */
    int num_children;          /**< used entries of @ref children */
    int cap_children;          /**< allocated entries of @ref children */
    NnHookSlot *hooks;         /**< forward pre-hooks and hooks, in registration order */
    int num_hooks;             /**< used entries of @ref hooks */
    int cap_hooks;             /**< allocated entries of @ref hooks */
    int64_t next_handle;       /**< the next hook handle to hand out */
};

/**
 * @brief Create a module of @p type with no parameters, buffers or children, in
 *        training mode.
 * @param[in] type the vtable (borrowed; must outlive the module; name required).
 * @param[in] state private data; the module takes ownership (type->free_state frees it
 *            with the module; if free_state is NULL it is never freed). May be NULL.
 * @return A new module (nn_module_free()), or NULL with an error (then @p state has
 *         been freed by type->free_state, if any).
 */
STRATA_API Module *nn_module_new(const ModuleType *type, void *state);

/**
 * @brief Destroy @p m, its children (recursively), its hooks, and release its
 *        parameters and buffers. NULL is ignored. A module that is some module's child
 *        is not freed (its parent will free it): an error is recorded instead.
 */
STRATA_API void nn_module_free(Module *m);

/** @brief The state pointer given to nn_module_new() (borrowed), NULL for NULL @p m. */
STRATA_API void *nn_module_state(const Module *m);

/** @brief The type's name, e.g. "Linear" (borrowed); "" for NULL @p m. */
STRATA_API const char *nn_module_type_name(const Module *m);

/**
 * @brief Register parameter @p name of @p m.
 * @param[in,out] m the module.
 * @param[in] name a non-empty name without '.', not already used by a parameter, buffer
 *            or child of @p m.
 * @param[in] param a leaf Var (retained, not copied; the caller keeps its own
 *            reference), or NULL to declare an absent optional parameter (a Linear
 *            without bias): it is skipped by nn_named_parameters() and the state dict,
 *            as in PyTorch, and nn_get_parameter() returns NULL for it.
 * @return 0, or -1 with an error (bad or duplicate name, non-leaf Var) and @p m unchanged.
 */
STRATA_API int nn_register_parameter(Module *m, const char *name, Var *param);

/**
 * @brief Create a parameter of @p shape (zeros, requires grad), register it as @p name
 *        and return it. The convenient way for constructors: nothing to release.
 * @return The parameter, borrowed (owned by @p m), or NULL with an error.
 */
STRATA_API Var *nn_add_parameter(Module *m, const char *name, const int64_t *shape, int ndim);

/**
 * @brief Register buffer @p name of @p m.
 * @param[in,out] m the module.
 * @param[in] name as for nn_register_parameter().
 * @param[in] tensor the buffer (retained); NULL declares an absent buffer (skipped by
 *            iteration and the state dict).
 * @param[in] persistent whether nn_state_dict() includes it.
 * @return 0, or -1 with an error (bad or duplicate name) and @p m unchanged.
 */
STRATA_API int nn_register_buffer(Module *m, const char *name, Tensor *tensor, bool persistent);

/**
 * @brief Create a zero buffer of @p shape, register it as @p name and return it.
 * @return The buffer, borrowed (owned by @p m), or NULL with an error.
 */
STRATA_API Tensor *nn_add_buffer(Module *m, const char *name, const int64_t *shape, int ndim,
                                 bool persistent);

/**
 * @brief Register @p child as sub-module @p name of @p m, taking ownership of it.
 * @param[in,out] m the parent.
 * @param[in] name as for nn_register_parameter().
 * @param[in] child the child; ownership passes to @p m, and on failure @p child is
 *            freed, so `nn_register_module(m, "fc", nn_linear(...))` never leaks. The
 *            exception: a child that is already in a tree (it has a parent, or it is
 *            @p m or one of @p m's ancestors) is refused and left alone.
 *            NULL (a failed constructor) propagates its message.
 * @return 0, or -1 with an error (bad or duplicate name, child already owned, child is
 *         @p m or one of its ancestors).
 */
STRATA_API int nn_register_module(Module *m, const char *name, Module *child);

/**
 * @brief The parameter at the dotted path @p name ("fc1.weight"), borrowed.
 * @return The Var; NULL for an absent optional parameter (no error recorded) or an
 *         unknown name (error "no parameter 'x'").
 */
STRATA_API Var *nn_get_parameter(const Module *m, const char *name);

/** @brief The buffer at the dotted path @p name, borrowed; NULL with an error if unknown. */
STRATA_API Tensor *nn_get_buffer(const Module *m, const char *name);

/**
 * @brief The sub-module at the dotted path @p name ("blocks.0.attn"), borrowed;
 *        "" is @p m itself. NULL with an error if unknown.
 */
STRATA_API Module *nn_get_submodule(const Module *m, const char *name);

/** @brief Number of direct children of @p m (0 for NULL). */
STRATA_API int nn_num_children(const Module *m);

/**
 * @brief The direct child at @p index (negative counts from the end), borrowed.
 * @return The child, or NULL with an error if out of range.
 */
STRATA_API Module *nn_child_at(const Module *m, int index);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Named iteration
 *  Names are dotted paths from the module they were asked of, in registration order,
 *  depth first (a module's own entries before its children's). A Var or Tensor shared by
 *  several modules is listed once, at its first name (PyTorch's remove_duplicate).
 *  @{ */

/** Named parameters: names owned by the list, Vars borrowed from the modules. */
typedef struct NnNamedVars {
    int count;    /**< number of entries */
    char **names; /**< dotted names (owned) */
    Var **vars;   /**< the parameters (borrowed) */
} NnNamedVars;

/** Named buffers: names owned by the list, Tensors borrowed from the modules. */
typedef struct NnNamedTensors {
    int count;         /**< number of entries */
    char **names;      /**< dotted names (owned) */
    Tensor **tensors;  /**< the buffers (borrowed) */
    bool *persistent;  /**< whether each buffer is persistent */
} NnNamedTensors;

/** Named modules: names owned by the list, Modules borrowed. */
typedef struct NnNamedModules {
    int count;          /**< number of entries */
    char **names;       /**< dotted names (owned); "" for the root in nn_named_modules() */
    Module **modules;   /**< the modules (borrowed) */
} NnNamedModules;

/**
 * @brief Every parameter of @p m and its descendants.
 * @return A new list (nn_named_vars_free()), or NULL with an error.
 */
STRATA_API NnNamedVars *nn_named_parameters(const Module *m);
/** @brief Every buffer (persistent or not) of @p m and its descendants; see above. */
STRATA_API NnNamedTensors *nn_named_buffers(const Module *m);
/** @brief The direct children of @p m, named by their local names. */
STRATA_API NnNamedModules *nn_named_children(const Module *m);
/** @brief @p m itself (name "") and every descendant, pre-order. */
STRATA_API NnNamedModules *nn_named_modules(const Module *m);
/** @brief Free a list from nn_named_parameters(). NULL is ignored. */
STRATA_API void nn_named_vars_free(NnNamedVars *list);
/** @brief Free a list from nn_named_buffers(). NULL is ignored. */
STRATA_API void nn_named_tensors_free(NnNamedTensors *list);
/** @brief Free a list from nn_named_children()/nn_named_modules(). NULL is ignored. */
STRATA_API void nn_named_modules_free(NnNamedModules *list);

/**
 * @brief The parameters of @p m without names (what an optimizer takes).
 * @param[in] m the root of the tree.
 * @param[out] count receives the number of entries.
 * @return An array of borrowed Vars the caller frees with strata_free() (non-NULL even
 *         when empty), or NULL with an error.
 */
STRATA_API Var **nn_parameters(const Module *m, int *count);

/**
 * @brief Number of scalar parameters (each shared parameter counted once).
 * @param[in] m the root of the tree.
 * @param[in] trainable_only count only parameters with requires_grad.
 * @return The count, or -1 with an error.
 */
STRATA_API int64_t nn_num_parameters(const Module *m, bool trainable_only);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Modes, gradients, apply
 *  @{ */

/** @brief Set training mode on @p m and every descendant. NULL is ignored. */
STRATA_API void nn_train(Module *m, bool mode);
/** @brief nn_train(m, false): evaluation mode (Dropout off, BatchNorm uses running stats). */
STRATA_API void nn_eval(Module *m);
/** @brief Whether @p m is in training mode (false for NULL). */
STRATA_API bool nn_is_training(const Module *m);
/**
 * @brief Zero the gradient of every parameter of @p m's tree. NULL is ignored.
 * @param[in,out] m the root of the tree.
 * @param[in] set_to_none drop the gradients (PyTorch's default) rather than fill zeros.
 */
STRATA_API void nn_zero_grad(Module *m, bool set_to_none);
/**
 * @brief Call @p fn on every module of the tree, children first, then @p m (as
 *        PyTorch's Module.apply).
 * @param[in,out] m the root of the tree.
 * @param[in] fn returns 0 to go on, -1 (with an error) to stop.
 * @param[in] ctx passed to @p fn.
 * @return 0, or -1 if @p fn failed or an argument is NULL.
 */
STRATA_API int nn_apply(Module *m, int (*fn)(Module *module, void *ctx), void *ctx);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Forward and hooks
 *  @{ */

/**
 * @brief Run @p m on @p input: its pre-hooks, its forward, its forward hooks, each in
 *        registration order.
 * @return A fresh Var (ownership as in tensor.h: the open scope's, or the caller's), or
 *         NULL with an error (NULL input, a failing hook, a module without a one-input
 *         forward such as ModuleList, a shape the layer refuses).
 */
STRATA_API Var *nn_forward(Module *m, Var *input);
/**
 * @brief Run @p m on @p n inputs (a loss on input and target, attention on query, key
 *        and value). A module with only a one-input forward accepts n == 1.
 * @return As nn_forward().
 */
STRATA_API Var *nn_forward_n(Module *m, Var *const *inputs, int n);
/** @brief nn_forward_n() with two inputs (a loss module's input and target). */
STRATA_API Var *nn_forward2(Module *m, Var *a, Var *b);

/**
 * @brief Add a forward pre-hook to @p m (runs before forward; may replace the inputs).
 * @param[in,out] m the module.
 * @param[in] hook the function; NULL is an error.
 * @param[in] user passed back to @p hook (borrowed).
 * @return A handle > 0 for nn_remove_hook(), or -1 with an error.
 */
STRATA_API int64_t nn_register_forward_pre_hook(Module *m, NnForwardPreHook hook, void *user);
/**
 * @brief Add a forward hook to @p m (runs after forward; may replace the output).
 * @return A handle > 0 for nn_remove_hook(), or -1 with an error.
 */
STRATA_API int64_t nn_register_forward_hook(Module *m, NnForwardHook hook, void *user);
/**
 * @brief Remove the hook @p handle from @p m.
 * @return 0, or -1 with an error ("no hook with handle 3", e.g. removed twice).
 */
STRATA_API int nn_remove_hook(Module *m, int64_t handle);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name State dicts and safetensors files
 *  @{ */

/** An ordered map from names to tensors, plus string metadata. */
typedef struct NnStateDict {
    int num_tensors;    /**< entries in @ref names / @ref tensors */
    int cap_tensors;    /**< allocated entries */
    char **names;       /**< tensor names (owned) */
    Tensor **tensors;   /**< the tensors (retained) */
    int num_meta;       /**< entries in @ref meta_keys / @ref meta_values */
    int cap_meta;       /**< allocated entries */
    char **meta_keys;   /**< metadata keys (owned) */
    char **meta_values; /**< metadata values (owned) */
} NnStateDict;

/** @brief An empty state dict (nn_state_dict_free()), or NULL with an error. */
STRATA_API NnStateDict *nn_state_dict_new(void);
/** @brief Destroy @p sd, releasing its tensors. NULL is ignored. */
STRATA_API void nn_state_dict_free(NnStateDict *sd);
/**
 * @brief Add tensor @p name, or replace it keeping its position.
 * @param[in,out] sd the dict.
 * @param[in] name the key (copied).
 * @param[in] t the tensor (retained, not copied).
 * @return 0, or -1 with an error.
 */
STRATA_API int nn_state_dict_set(NnStateDict *sd, const char *name, Tensor *t);
/**
 * @brief The tensor called @p name (borrowed).
 * @return The tensor, or NULL with an error naming the key when it is absent (a
 *         lookup that may miss asks nn_state_dict_contains() first).
 */
STRATA_API Tensor *nn_state_dict_get(const NnStateDict *sd, const char *name);
/** @brief Whether @p sd has a tensor called @p name (false for NULL arguments; never an
 *         error), as Python's `name in sd`. */
STRATA_API bool nn_state_dict_contains(const NnStateDict *sd, const char *name);
/** @brief Add or replace metadata @p key = @p value (both copied). 0 or -1. */
STRATA_API int nn_state_dict_set_meta(NnStateDict *sd, const char *key, const char *value);
/** @brief The metadata value of @p key (borrowed), or NULL (no error) if absent. */
STRATA_API const char *nn_state_dict_get_meta(const NnStateDict *sd, const char *key);

/**
 * @brief The state of @p m: every parameter, then persistent buffers, module by module
 *        in registration order, under dotted names (as PyTorch's state_dict()).
 * @return A new dict (nn_state_dict_free()) whose tensors are the module's own tensors
 *         (retained, not copied: later training changes them, as in PyTorch; clone
 *         them to snapshot), or NULL with an error.
 */
STRATA_API NnStateDict *nn_state_dict(const Module *m);

/** A list of keys (missing or unexpected), filled by nn_load_state_dict(). */
typedef struct NnKeys {
    int count;   /**< number of keys */
    char **keys; /**< the keys (owned) */
} NnKeys;

/** @brief Free the keys in @p keys and set it empty. NULL is ignored. */
STRATA_API void nn_keys_clear(NnKeys *keys);

/**
 * @brief Copy the tensors of @p sd into @p m's parameters and persistent buffers.
 *
 * Everything is validated before anything is copied: on failure @p m is unchanged.
 * @param[in,out] m the model; its tensors are written in place (the Vars stay).
 * @param[in] sd the values, by dotted name (see nn_state_dict()).
 * @param[in] strict when true, a missing or unexpected key is an error.
 * @param[out] missing if not NULL, receives the model's keys absent from @p sd (free
 *             with nn_keys_clear(); filled on failure too).
 * @param[out] unexpected if not NULL, receives the keys of @p sd the model lacks.
 * @return 0, or -1 with an error: a shape mismatch (always, as PyTorch), or in strict
 *         mode missing/unexpected keys (the message names them).
 */
STRATA_API int nn_load_state_dict(Module *m, const NnStateDict *sd, bool strict, NnKeys *missing,
                                  NnKeys *unexpected);

/**
 * @brief Write @p sd to a safetensors file: an 8-byte little-endian header length, a
 *        JSON header ({"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]},
 *        "__metadata__": {...}}) padded with spaces to a multiple of 8 bytes, then the
 *        little-endian float data in the dict's order.
 *        Writes "<path>.tmp" then renames it over @p path, so a failure leaves any old
 *        file intact.
 * @return 0, or -1 with an error naming the path.
 */
STRATA_API int nn_safetensors_save(const NnStateDict *sd, const char *path);

/**
 * @brief Read a safetensors file (F32 tensors; F64, F16, BF16, I64, I32, I16, I8, U8 and
 *        BOOL are converted to float32).
 * @return A new state dict (nn_state_dict_free()) with the file's tensors in data-offset
 *         order and its metadata, or NULL with an error naming the path and the problem
 *         (missing file, "cannot open"; truncated file, "truncated": shorter than 8
 *         bytes, or cut short in the data so that a tensor's data_offsets pass its end; a
 *         header length past the end of the file, "header length"; bad header JSON,
 *         "corrupt header"; a missing field, its name; other offsets outside the data;
 *         a byte count that does not match the shape, e.g. "8 bytes for 3 elements";
 *         overlapping ("overlaps") or holed data; unknown dtype, "unsupported dtype 'C64'").
 */
STRATA_API NnStateDict *nn_safetensors_load(const char *path);

/** @brief nn_state_dict() of @p m written with nn_safetensors_save(). 0 or -1. */
STRATA_API int nn_save(const Module *m, const char *path);
/**
 * @brief nn_safetensors_load() then nn_load_state_dict(m, ..., @p strict, NULL, NULL).
 * @return 0, or -1 with an error and @p m unchanged.
 */
STRATA_API int nn_load(Module *m, const char *path, bool strict);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name repr
 *  @{ */

/**
 * @brief The module tree in PyTorch's format, e.g.
 *        "Sequential(\n  (0): Linear(in_features=784, out_features=128, bias=True)\n
 *        (1): ReLU()\n)".
 * @return A string the caller frees with strata_free(), or NULL with an error.
 */
STRATA_API char *nn_repr(const Module *m);
/** @brief Write nn_repr() and a newline to @p stream. 0 or -1. */
STRATA_API int nn_fprint(FILE *stream, const Module *m);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name init
 *  In-place initialisers of a tensor (a parameter's var_data()), drawing from the seeded
 *  generator of tensor.h. Fans: for a tensor of shape [out, in, k...], fan_in = in *
 *  prod(k) and fan_out = out * prod(k) (PyTorch's _calculate_fan_in_and_fan_out).
 *  Each returns 0, or -1 with an error (NULL tensor, fewer than 2 dims where fans are
 *  needed, a bad argument) leaving the tensor unchanged.
 *  @{ */

/** Which fan kaiming_* preserves the variance of. */
typedef enum NnFanMode {
    NN_FAN_IN,  /**< the forward pass (PyTorch's default) */
    NN_FAN_OUT  /**< the backward pass */
} NnFanMode;

/**
 * @brief The recommended gain for a nonlinearity (torch.nn.init.calculate_gain):
 *        "linear", "conv1d", "conv2d", "sigmoid", "identity": 1; "tanh": 5/3; "relu":
 *        sqrt(2); "leaky_relu": sqrt(2 / (1 + param^2)); "selu": 3/4.
 * @param[in] nonlinearity the name, as PyTorch spells it.
 * @param[in] param the negative slope for "leaky_relu" (ignored otherwise).
 * @return The gain, or NAN with an error for an unknown name.
 */
STRATA_API float nn_calculate_gain(const char *nonlinearity, float param);
/**
 * @brief fan_in and fan_out of @p t (see above).
 * @return 0, or -1 with an error if @p t has fewer than 2 dims.
 */
STRATA_API int nn_init_fans(const Tensor *t, int64_t *fan_in, int64_t *fan_out);
STRATA_API int nn_init_constant_(Tensor *t, float value); /**< @brief Fill with @p value. */
STRATA_API int nn_init_zeros_(Tensor *t);                 /**< @brief Fill with 0. */
STRATA_API int nn_init_ones_(Tensor *t);                  /**< @brief Fill with 1. */
/** @brief U(@p a, @p b); -1 if a > b. */
STRATA_API int nn_init_uniform_(Tensor *t, float a, float b);
/** @brief N(@p mean, @p std^2); -1 if std < 0. */
STRATA_API int nn_init_normal_(Tensor *t, float mean, float std);
/** @brief U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio). */
STRATA_API int nn_init_xavier_uniform_(Tensor *t, float gain);
/** @brief N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out)). */
STRATA_API int nn_init_xavier_normal_(Tensor *t, float gain);
/**
 * @brief U(-b, b), b = gain * sqrt(3 / fan) with gain = nn_calculate_gain(@p
 *        nonlinearity, @p a) (He et al.).
 * @param[in,out] t the tensor to fill (at least 2 dims).
 * @param[in] a the negative slope for "leaky_relu" (PyTorch's default a = 0).
 * @param[in] mode which fan.
 * @param[in] nonlinearity "relu", "leaky_relu", "linear", "tanh", ...
 */
STRATA_API int nn_init_kaiming_uniform_(Tensor *t, float a, NnFanMode mode, const char *nonlinearity);
/** @brief N(0, s^2), s = gain / sqrt(fan); arguments as nn_init_kaiming_uniform_(). */
STRATA_API int nn_init_kaiming_normal_(Tensor *t, float a, NnFanMode mode, const char *nonlinearity);
/**
 * @brief A (semi-)orthogonal matrix times @p gain: @p t viewed as [shape[0], rest] gets
 *        orthonormal rows (or columns, whichever are fewer), from the QR decomposition of
 *        a normal matrix with the signs fixed by R's diagonal (as PyTorch).
 * @return 0, or -1 with an error if @p t has fewer than 2 dims.
 */
STRATA_API int nn_init_orthogonal_(Tensor *t, float gain);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Layers
 *  Each constructor returns a new module (nn_module_free(), or owned by the container
 *  it is given to) initialised as PyTorch does, or NULL with an error (non-positive
 *  sizes, p outside [0, 1), ...). Shapes follow PyTorch; batch dims come first.
 *  @{ */

/**
 * @brief y = x W^T + b. weight [out, in] and bias [out] ~ kaiming_uniform_(a=sqrt(5)),
 *        i.e. U(-1/sqrt(in), 1/sqrt(in)). Input [..., in], output [..., out].
 */
STRATA_API Module *nn_linear(int64_t in_features, int64_t out_features, bool bias);
/**
 * @brief 2-D convolution (square kernel). weight [out, in, k, k], bias [out], both
 *        U(-1/sqrt(in*k*k), 1/sqrt(in*k*k)). Input [N, in, H, W].
 */
STRATA_API Module *nn_conv2d(int64_t in_channels, int64_t out_channels, int kernel_size, int stride,
                             int padding, int dilation, bool bias);
/** @brief Max pooling; @p stride 0 means stride = kernel_size (PyTorch's default). */
STRATA_API Module *nn_max_pool2d(int kernel_size, int stride, int padding);
/** @brief Average pooling (count_include_pad); @p stride 0 means kernel_size. */
STRATA_API Module *nn_avg_pool2d(int kernel_size, int stride, int padding);
/**
 * @brief BatchNorm1d over [N, C] or [N, C, L]: weight 1, bias 0, buffers running_mean 0,
 *        running_var 1, num_batches_tracked 0; eps 1e-5, momentum 0.1.
 */
STRATA_API Module *nn_batch_norm1d(int64_t num_features);
/** @brief BatchNorm2d over [N, C, H, W]; as nn_batch_norm1d(). */
STRATA_API Module *nn_batch_norm2d(int64_t num_features);
/**
 * @brief Batch normalisation with every option.
 * @param[in] spatial_dims 1 (BatchNorm1d) or 2 (BatchNorm2d).
 * @param[in] num_features C, the size of dim 1 of the input.
 * @param[in] eps added to the variance.
 * @param[in] momentum weight of the new batch in the running averages (0.1).
 * @param[in] affine whether to learn weight and bias.
 * @param[in] track_running_stats whether to keep running statistics (if false, batch
 *            statistics are used in eval mode too, and there are no buffers).
 * Training normalises with the biased batch variance and updates running_var with the
 * unbiased one, as PyTorch. The running statistics change last, once nothing else can
 * fail: a training forward that fails (out of memory) leaves every buffer as it was.
 */
STRATA_API Module *nn_batch_norm(int spatial_dims, int64_t num_features, float eps, float momentum,
                                 bool affine, bool track_running_stats);
/**
 * @brief Layer normalisation over the last @p ndim dims, which must equal
 *        @p normalized_shape; weight 1 and bias 0 of that shape if @p elementwise_affine.
 */
STRATA_API Module *nn_layer_norm(const int64_t *normalized_shape, int ndim, float eps,
                                 bool elementwise_affine);
/**
 * @brief A table of @p num_embeddings vectors of size @p embedding_dim, N(0, 1). Input:
 *        float indices of any shape; output: that shape plus [embedding_dim].
 */
STRATA_API Module *nn_embedding(int64_t num_embeddings, int64_t embedding_dim);
/**
 * @brief In training, zero each element with probability @p p (tensor RNG) and scale the
 *        rest by 1/(1-p); the identity in eval mode. @p p in [0, 1] (1 gives zeros).
 */
STRATA_API Module *nn_dropout(float p);
/** @brief Flatten dims @p start_dim .. @p end_dim (PyTorch's defaults: 1, -1). */
STRATA_API Module *nn_flatten(int start_dim, int end_dim);
/** @brief Returns (a fresh view of) its input. */
STRATA_API Module *nn_identity(void);
STRATA_API Module *nn_relu(void);                  /**< @brief max(x, 0) */
STRATA_API Module *nn_leaky_relu(float negative_slope); /**< @brief x or slope*x (PyTorch: 0.01) */
STRATA_API Module *nn_sigmoid(void);               /**< @brief 1 / (1 + e^-x) */
STRATA_API Module *nn_tanh(void);                  /**< @brief tanh x */
STRATA_API Module *nn_gelu(void);                  /**< @brief exact GELU (approximate='none') */
STRATA_API Module *nn_softmax(int dim);            /**< @brief softmax along @p dim */
STRATA_API Module *nn_log_softmax(int dim);        /**< @brief log-softmax along @p dim */

/**
 * @brief Multi-head attention (Vaswani et al.) with batch-first inputs [N, L, E]
 *        (PyTorch's batch_first=True). Parameters as PyTorch: in_proj_weight [3E, E]
 *        (xavier_uniform_), in_proj_bias [3E] (0), out_proj (a Linear E -> E, bias 0).
 * @param[in] embed_dim E, the feature size of query, key and value.
 * @param[in] num_heads must divide @p embed_dim.
 * @param[in] bias whether the projections have biases.
 * nn_forward_n() takes (query, key, value) and returns [N, L, E]; see
 * nn_multihead_attention() for masks.
 */
STRATA_API Module *nn_multihead_attention(int64_t embed_dim, int64_t num_heads, bool bias);
/**
 * @brief Run a MultiheadAttention module with masks (its hooks run, as nn_forward_n()).
 * @param[in] m a module from nn_multihead_attention().
 * @param[in] query [N, L, E].
 * @param[in] key [N, S, E].
 * @param[in] value [N, S, E].
 * @param[in] attn_mask NULL, or [L, S] (or [N*num_heads, L, S]): a float mask added to
 *            the scores, where a value of -INFINITY forbids the pair.
 * @param[in] is_causal also forbid key positions after the query position (L == S).
 * @return [N, L, E], softmax(Q K^T / sqrt(E/heads) + mask) V per head, projected; or
 *         NULL with an error. A row with every position masked gives NaN, as PyTorch.
 */
STRATA_API Var *nn_multihead_attention_forward(Module *m, Var *query, Var *key, Var *value,
                                               const Tensor *attn_mask, bool is_causal);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Containers
 *  Sequential, ModuleList and ModuleDict own their children. The list operations work
 *  on both Sequential and ModuleList; children are named "0", "1", ... and renumbered
 *  after an insert or delete, as PyTorch.
 *  @{ */

/**
 * @brief Chain @p n modules (varargs of `Module *`): forward feeds each output to the
 *        next.
 * @param[in] n the number of modules that follow (0 to 256); ownership of every one passes
 *            to the Sequential, even on failure (a NULL among them frees the others and
 *            returns NULL, keeping the failed constructor's message).
 */
STRATA_API Module *nn_sequential(int n, ...);
/** @brief An empty ModuleList (a list of children without a forward). */
STRATA_API Module *nn_module_list(void);
/**
 * @brief Append @p module to a Sequential or ModuleList, taking ownership (freed on
 *        failure, except a module that already has a parent). 0 or -1.
 */
STRATA_API int nn_sequential_append(Module *seq, Module *module);
/** @brief Same as nn_sequential_append() (ModuleList.append). */
STRATA_API int nn_module_list_append(Module *list, Module *module);
/** @brief Insert @p module before @p index (negative counts from the end; len appends). */
STRATA_API int nn_module_list_insert(Module *list, int index, Module *module);
/**
 * @brief Move every child of the container @p other (emptied, then freed) to the end of
 *        @p list (ModuleList.extend). 0 or -1 with both unchanged.
 */
STRATA_API int nn_module_list_extend(Module *list, Module *other);
/** @brief The child at @p index (negative counts from the end), borrowed; NULL if out of range. */
STRATA_API Module *nn_module_list_get(const Module *list, int index);
/** @brief Free the child at @p index and renumber the rest. 0 or -1. */
STRATA_API int nn_module_list_delete(Module *list, int index);
/** @brief Number of children of a Sequential/ModuleList/ModuleDict, -1 with an error. */
STRATA_API int nn_module_list_len(const Module *list);

/** @brief An empty ModuleDict (children by key, in insertion order). */
STRATA_API Module *nn_module_dict(void);
/**
 * @brief Set @p key to @p module (ownership passes, as nn_register_module()); an
 *        existing key's module is freed and replaced in place (keeping its position).
 * @return 0 or -1.
 */
STRATA_API int nn_module_dict_set(Module *dict, const char *key, Module *module);
/** @brief The module at @p key, borrowed; NULL with an error if absent. */
STRATA_API Module *nn_module_dict_get(const Module *dict, const char *key);
/** @brief Whether @p key is present. */
STRATA_API bool nn_module_dict_contains(const Module *dict, const char *key);
/** @brief Free the module at @p key and remove the key. 0 or -1 if absent. */
STRATA_API int nn_module_dict_delete(Module *dict, const char *key);
/**
 * @brief The keys in order (ModuleDict.keys); values and items are nn_named_children().
 * @param[in] dict the ModuleDict.
 * @param[out] keys receives the keys (nn_keys_clear()).
 * @return 0 or -1.
 */
STRATA_API int nn_module_dict_keys(const Module *dict, NnKeys *keys);
/**
 * @brief Move every child of @p other (a ModuleDict, emptied then freed) into @p dict,
 *        replacing equal keys in place (ModuleDict.update). 0 or -1 with both unchanged.
 */
STRATA_API int nn_module_dict_update(Module *dict, Module *other);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Losses
 *  Functions and modules. @p target is a Tensor (it is not differentiated); class
 *  targets hold integer class indices as floats. A class target of -100 (PyTorch's
 *  default ignore_index) leaves its sample out of cross-entropy and NLL: its loss is 0
 *  under NN_REDUCTION_NONE, it adds nothing to the sum and its gradient is 0, and the
 *  mean is over the other samples (0/0 = NaN when every sample is ignored). The modules
 *  take (input, target) via nn_forward2(), the target as a Var whose data is used.
 *  @{ */

/** How a loss reduces its per-element values. */
typedef enum NnReduction {
    NN_REDUCTION_MEAN, /**< the mean (PyTorch's default) */
    NN_REDUCTION_SUM,  /**< the sum */
    NN_REDUCTION_NONE  /**< no reduction: one value per element (per sample for CE/NLL) */
} NnReduction;

/** @brief (input - target)^2 reduced; shapes must match. */
STRATA_API Var *nn_mse_loss(Var *input, const Tensor *target, NnReduction reduction);
/** @brief |input - target| reduced; shapes must match. */
STRATA_API Var *nn_l1_loss(Var *input, const Tensor *target, NnReduction reduction);
/**
 * @brief Cross-entropy of logits [N, C] with class indices [N], mean over the batch,
 *        computed stably as -log_softmax(logits)[target].
 */
STRATA_API Var *nn_cross_entropy(Var *logits, const Tensor *target);
/**
 * @brief Cross-entropy with a reduction and label smoothing eps in [0, 1], PyTorch's
 *        formula: loss_i = (1 - eps) * nll_i + eps * mean_c(-log_softmax(x_i)_c).
 * @return A scalar (mean/sum) or [N] (none); NULL with an error for a target outside
 *         [0, C) other than -100 (ignored, see above), or mismatched shapes.
 */
STRATA_API Var *nn_cross_entropy_loss(Var *logits, const Tensor *target, NnReduction reduction,
                                      float label_smoothing);
/** @brief Negative log-likelihood: -log_probs[i, target_i] reduced; [N, C] and [N]. */
STRATA_API Var *nn_nll_loss(Var *log_probs, const Tensor *target, NnReduction reduction);
/**
 * @brief Binary cross-entropy of probabilities: -(t log p + (1 - t) log(1 - p)), each
 *        log clamped at -100 as PyTorch. Its gradient is PyTorch's: per element,
 *        (p - t) / max(p (1 - p), 1e-12) times the incoming gradient (1/N under the
 *        mean), finite at p = 0 and p = 1 (clamp(log p) composed from autograd ops gives
 *        0 * inf = NaN there, so the reference is a var_custom op with this backward).
 */
STRATA_API Var *nn_bce_loss(Var *probs, const Tensor *target, NnReduction reduction);
/**
 * @brief Binary cross-entropy of logits, stable for any magnitude:
 *        softplus(x) - t x with softplus(x) = logsumexp(0, x).
 */
STRATA_API Var *nn_bce_with_logits_loss(Var *logits, const Tensor *target, NnReduction reduction);

STRATA_API Module *nn_mse_loss_module(NnReduction reduction); /**< @brief MSELoss */
STRATA_API Module *nn_l1_loss_module(NnReduction reduction);  /**< @brief L1Loss */
/** @brief CrossEntropyLoss with @p label_smoothing. */
STRATA_API Module *nn_cross_entropy_module(NnReduction reduction, float label_smoothing);
STRATA_API Module *nn_nll_loss_module(NnReduction reduction); /**< @brief NLLLoss */
STRATA_API Module *nn_bce_loss_module(NnReduction reduction); /**< @brief BCELoss */
STRATA_API Module *nn_bce_with_logits_loss_module(NnReduction reduction); /**< @brief BCEWithLogitsLoss */
/** @} */

/** @} */ /* end of group nn */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_NN_H */
