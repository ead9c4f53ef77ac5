/* cnn_pool.c - the CNN engine's worker threads (shared declarations: cnn_impl.h): threads - 1
 * persistent workers, created with the network and released by a barrier for every parallel region of
 * a pass (a layer's parts, cnn_layers.c), so the training loop creates no thread and allocates nothing.
 * Worker t runs part t of T; the caller runs part 0.  Which part computes what is fixed by (t, T), so
 * the results do not depend on the order in which the threads run.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cnn_impl.h"
#include "util.h"

/* Barrier that polls briefly before sleeping: a training step has ~60 parallel regions a few hundred
 * microseconds apart, and waking a thread asleep in pthread_barrier_wait costs tens of microseconds
 * each time (measured: 3-9% of a 2-thread step).  POOL_SPIN polls (a few microseconds to tens of
 * microseconds) keep that cost away without burning a core between steps.  The last thread to arrive
 * resets the count and advances the generation under the mutex, so a waiter that checks the
 * generation under the mutex cannot miss the broadcast. */
#ifndef POOL_SPIN
#define POOL_SPIN 2000
#endif
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t cv;
    atomic_uint arrived, gen;
    unsigned n;
} spin_barrier;

static void sbar_init(spin_barrier *b, unsigned n)
{
    pthread_mutex_init(&b->m, NULL);
    pthread_cond_init(&b->cv, NULL);
    atomic_init(&b->arrived, 0), atomic_init(&b->gen, 0);
    b->n = n;
}

static void sbar_destroy(spin_barrier *b)
{
    pthread_mutex_destroy(&b->m), pthread_cond_destroy(&b->cv);
}

static void sbar_wait(spin_barrier *b)
{
    unsigned g = atomic_load(&b->gen);
    if (atomic_fetch_add(&b->arrived, 1) + 1 == b->n) {
        atomic_store(&b->arrived, 0);
        pthread_mutex_lock(&b->m);
        atomic_store(&b->gen, g + 1);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->m);
        return;
    }
    for (int i = 0; i < POOL_SPIN; i++) {
        if (atomic_load_explicit(&b->gen, memory_order_acquire) != g) return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&b->m);
    while (atomic_load(&b->gen) == g)
        pthread_cond_wait(&b->cv, &b->m);
    pthread_mutex_unlock(&b->m);
}

/* Persistent workers released by a barrier for every parallel region (no thread creation or
 * allocation inside the training loop).  Worker t runs part t of T; the caller runs part 0. */
struct cnn_pool {
    int nthr; /* workers + 1 */
    pthread_t th[64];
    spin_barrier start, done;
    cnn *n;
    const cnn_layer *L;
    cnn_layer_fn fn;
    int T, quit;
};

typedef struct {
    cnn_pool *p;
    int t;
} pool_arg;

static void *pool_main(void *arg)
{
    cnn_pool *p = ((pool_arg *)arg)->p;
    int t = ((pool_arg *)arg)->t;
    free(arg);
    for (;;) {
        sbar_wait(&p->start);
        if (p->quit) break;
        if (t < p->T) p->fn(p->n, p->L, t, p->T);
        sbar_wait(&p->done);
    }
    return NULL;
}

cnn_pool *cnn_pool_alloc(int nthr)
{
    cnn_pool *p = util_calloc(1, sizeof *p);
    p->nthr = nthr;
    sbar_init(&p->start, (unsigned)nthr);
    sbar_init(&p->done, (unsigned)nthr);
    for (int t = 1; t < nthr; t++) {
        pool_arg *a = util_malloc(sizeof *a);
        a->p = p, a->t = t;
        if (pthread_create(&p->th[t], NULL, pool_main, a)) CS_ASSERT(!"pthread_create failed");
    }
    return p;
}

void cnn_pool_free(cnn_pool *p)
{
    if (!p) return;
    p->quit = 1;
    sbar_wait(&p->start);
    for (int t = 1; t < p->nthr; t++)
        pthread_join(p->th[t], NULL);
    sbar_destroy(&p->start);
    sbar_destroy(&p->done);
    free(p);
}

void cnn_pool_run(cnn *n, const cnn_layer *L, cnn_layer_fn fn, int T)
{
    cnn_pool *p = n->pool;
    if (T <= 1 || !p) {
        fn(n, L, 0, 1);
        return;
    }
    p->n = n, p->L = L, p->fn = fn, p->T = T;
    sbar_wait(&p->start);
    fn(n, L, 0, T);
    sbar_wait(&p->done);
}
