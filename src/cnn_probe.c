/* cnn_probe.c - Jacobian per source, sampled Relative Source Variance and Fisher-information trace of
 * a cnn on a fixed probe set (see include/cnn_probe.h for the definitions and layouts).
 *
 * Mathematics.  With batch norm in evaluation mode the network is a fixed function of each image, so
 *   sum_n d logit_k(x_n) / d x_n = the input gradient of the batch for the logits' gradient e_k per image,
 * one input-gradient pass per class k.  The RSV passes follow the official get_dominance loop (fixed
 * partner = the last batch; Welford population variance over the varied batches).  For the Fisher
 * trace, d log p(y|x) / d logits = e_y - softmax(logits); the sign does not matter for the squared
 * norm.  A convolution's weight gradient for one image is dW = dY col(x)^T (cout x cin k k), the
 * linear layer's dW = dy x^T, whose squared Frobenius norm is |dy|^2 |x|^2.
 *
 * Non-goals: see cnn_probe.h.
 */
#include "cnn_probe.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cnn_kernels.h"
#include "rsv.h"
#include "util.h"

struct cnnp {
    int nin;       /* floats per input image */
    float *x, *dx; /* (batch x nin) */
    float *col;    /* im2col of one image, largest layer */
    float *dw;     /* one layer's weight gradient for one image */
    float *z;      /* one evaluation's units (RSV), grown on demand outside loops */
    long z_cap;
    double *p; /* (batch x n_class) softmax */
    int *lab;  /* (batch) sampled labels */
    int *fl;   /* layers of the Fisher trace */
};

cnnp *cnnp_alloc(const cnn *n)
{
    cnnp *p = util_calloc(1, sizeof *p);
    const cnn_cfg *c = &n->cfg;
    p->nin = c->in_c * c->in_h * c->in_w;
    p->x = util_malloc(sizeof(float) * (size_t)c->batch * p->nin);
    p->dx = util_malloc(sizeof(float) * (size_t)c->batch * p->nin);
    long cs = 1, ws = 1;
    for (int i = 0; i < n->n_layer; i++) {
        const cnn_layer *L = &n->layer[i];
        if (L->type != CNN_CONV) continue;
        const cnn_tensor *to = &n->t[L->out];
        long k = (long)L->cin * L->k * L->k;
        if (k * to->h * to->w > cs) cs = k * to->h * to->w;
        if (k * L->cout > ws) ws = k * L->cout;
    }
    p->col = util_malloc(sizeof(float) * cs);
    p->dw = util_malloc(sizeof(float) * ws);
    p->p = util_malloc(sizeof(double) * (size_t)c->batch * c->n_class);
    p->lab = util_malloc(sizeof(int) * (size_t)c->batch);
    p->fl = util_malloc(sizeof(int) * (size_t)n->n_layer);
    return p;
}

void cnnp_free(cnnp *p)
{
    if (!p) return;
    free(p->x), free(p->dx), free(p->col), free(p->dw), free(p->z), free(p->p), free(p->lab), free(p->fl);
    free(p);
}

/* ---- Jacobian ---------------------------------------------------------------------------------------- */

int cnnp_source_pixels(const cnn *n, const cnnp_sources *s, int P)
{
    const cnn_cfg *c = &n->cfg;
    return c->in_c / s->n_src * c->in_h * (s->col1[P] - s->col0[P]);
}

int cnnp_jacobian(cnnp *p, cnn *n, const float *x, int nimg, double *J)
{
    int B = n->cfg.batch, K = n->cfg.n_class, nin = p->nin;
    memset(J, 0, sizeof(double) * (size_t)K * nin);
    float *g = n->t[n->n_tensor - 1].g;
    for (int first = 0; first < nimg; first += B) {
        int nb = nimg - first < B ? nimg - first : B;
        cnn_forward(n, x + (size_t)first * nin, nb, CNN_EVAL);
        for (int k = 0; k < K; k++) {
            memset(g, 0, sizeof(float) * (size_t)nb * K);
            for (int i = 0; i < nb; i++)
                g[(size_t)i * K + k] = 1.0f;
            cnn_backward_input(n, p->dx);
            double *row = J + (size_t)k * nin;
            for (int i = 0; i < nb; i++) {
                const float *d = p->dx + (size_t)i * nin;
                for (int j = 0; j < nin; j++)
                    row[j] += d[j];
            }
        }
    }
    for (long j = 0; j < (long)K * nin; j++) {
        J[j] /= nimg;
        if (!isfinite(J[j]))
            return util_seterr(CS_EFAIL, "non-finite Jacobian entry (class %ld, input %ld)", j / nin,
                               j % nin);
    }
    return CS_OK;
}

void cnnp_source_map(const cnn *n, const cnnp_sources *s, int P, const double *J, double *map)
{
    const cnn_cfg *c = &n->cfg;
    int cg = c->in_c / s->n_src, h = c->in_h, w = c->in_w, nin = c->in_c * h * w;
    int np = cnnp_source_pixels(n, s, P);
    for (int k = 0; k < c->n_class; k++) {
        double *m = map + (size_t)k * np;
        const double *row = J + (size_t)k * nin;
        for (int ch = P * cg; ch < (P + 1) * cg; ch++)
            for (int r = 0; r < h; r++)
                for (int col = s->col0[P]; col < s->col1[P]; col++)
                    *m++ = row[((size_t)ch * h + r) * w + col];
    }
}

/* ---- RSV --------------------------------------------------------------------------------------------- */

int cnnp_find_layer(const cnn *n, const char *name)
{
    char blk[64];
    snprintf(blk, sizeof blk, "%s.bn+relu", name);
    for (int i = 0; i < n->n_layer; i++)
        if (!strcmp(n->layer[i].name, name) || !strcmp(n->layer[i].name, blk)) return i;
    return -1;
}

char *cnnp_layer_names(const cnn *n)
{
    char *buf = NULL;
    size_t nbuf = 0;
    FILE *f = open_memstream(&buf, &nbuf);
    if (!f) return util_strdup("");
    for (int i = 0, k = 0; i < n->n_layer; i++)
        if (n->layer[i].type != CNN_CONV && n->layer[i].type != CNN_LINEAR)
            fprintf(f, "%s%s", k++ ? " " : "", n->layer[i].name);
    fclose(f);
    return buf;
}

int cnnp_default_rsv_layer(const cnn *n)
{
    const cnn_cfg *c = &n->cfg;
    char nm[64];
    if (c->arch == CNN_SPLIT && c->fuse_after < c->depth)
        snprintf(nm, sizeof nm, "stage%d.b", c->fuse_after + 1);
    else if (c->arch == CNN_SPLIT || c->depth == 0)
        snprintf(nm, sizeof nm, "head");
    else
        snprintf(nm, sizeof nm, "stage%d.b", c->depth);
    return cnnp_find_layer(n, nm);
}

long cnnp_rsv_units(const cnn *n, int layer, int slots)
{
    const cnn_tensor *t = &n->t[n->layer[layer].out];
    return (long)slots * t->c * t->h * t->w;
}

void cnnp_rsv(cnnp *p, cnn *n, int layer, const float *x, int nbat, int slots, double *sv_a, double *sv_b)
{
    const cnn_cfg *c = &n->cfg;
    const cnn_tensor *T = &n->t[n->layer[layer].out];
    int B = c->batch, nin = p->nin, half = nin / 2, C = T->c, hw = T->h * T->w;
    CS_ASSERT(nbat >= 2 && slots >= 1 && slots <= B && c->in_c % 2 == 0);
    long nu = cnnp_rsv_units(n, layer, slots);
    if (nu > p->z_cap) {
        free(p->z);
        p->z = util_malloc(sizeof(float) * nu);
        p->z_cap = nu;
    }
    rsv_acc *acc[2] = {rsv_acc_alloc((size_t)nu), rsv_acc_alloc((size_t)nu)};
    int per = B / slots, npair = 2 * nbat; /* evaluations per forward pass */
    for (int e0 = 0; e0 < npair; e0 += per) {
        int ne = npair - e0 < per ? npair - e0 : per, nb = ne * slots;
        for (int e = 0; e < ne; e++) { /* pair q < nbat: fix a (ia last, ib = q); else fix b */
            int q = e0 + e, ia = q < nbat ? nbat - 1 : q - nbat, ib = q < nbat ? q : nbat - 1;
            for (int j = 0; j < slots; j++) {
                float *xo = p->x + ((size_t)e * slots + j) * nin;
                memcpy(xo, x + ((size_t)ia * slots + j) * nin, sizeof(float) * half);
                memcpy(xo + half, x + ((size_t)ib * slots + j) * nin + half, sizeof(float) * half);
            }
        }
        cnn_forward(n, p->x, nb, CNN_EVAL);
        for (int e = 0; e < ne; e++) {
            float *z = p->z;
            for (int j = 0; j < slots; j++) {
                int img = e * slots + j;
                for (int ch = 0; ch < C; ch++) {
                    const float *src =
                        hw == 1 ? T->x + (size_t)img * C + ch : T->x + ((size_t)ch * nb + img) * hw;
                    memcpy(z, src, sizeof(float) * hw);
                    z += hw;
                }
            }
            rsv_acc_add_f(acc[e0 + e < nbat ? 0 : 1], p->z);
        }
    }
    rsv_acc_var(acc[0], sv_b); /* x_a fixed: the variance caused by b */
    rsv_acc_var(acc[1], sv_a);
    rsv_acc_free(acc[0]);
    rsv_acc_free(acc[1]);
}

/* ---- Fisher ------------------------------------------------------------------------------------------ */

int cnnp_fisher_layers(const cnn *n, int *idx)
{
    int m = 0;
    for (int i = 0; i < n->n_layer; i++)
        if (n->layer[i].type == CNN_CONV || n->layer[i].type == CNN_LINEAR) {
            if (idx) idx[m] = i;
            m++;
        }
    return m;
}

static uint64_t mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Squared norm of one image's weight gradient of layer L (after cnn_backward_input). */
static double wgrad_sq(cnnp *p, cnn *n, const cnn_layer *L, int img)
{
    const cnn_tensor *ti = &n->t[L->in], *to = &n->t[L->out];
    int nb = n->nb;
    double s = 0;
    if (L->type == CNN_LINEAR) {
        const float *x = ti->x + (size_t)img * ti->c + L->in_c0,
                    *dy = to->g + (size_t)img * to->c + L->out_c0;
        double sx = 0, sy = 0;
        for (int i = 0; i < L->cin; i++)
            sx += (double)x[i] * x[i];
        for (int o = 0; o < L->cout; o++)
            sy += (double)dy[o] * dy[o];
        return sx * sy;
    }
    int hwi = ti->h * ti->w, hwo = to->h * to->w, K = L->cin * L->k * L->k;
    long csi = (long)nb * hwi, cso = (long)nb * hwo;
    const float *x = ti->x + L->in_c0 * csi + (long)img * hwi, *src = x;
    long ld = csi;
    if (!(L->k == 1 && L->stride == 1)) {
        cnnk_im2col(x, csi, 1, L->cin, ti->h, ti->w, L->k, L->stride, to->h, to->w, p->col, 1);
        src = p->col, ld = hwo;
    }
    const float *dy = to->g + L->out_c0 * cso + (long)img * hwo;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L->cout, K, hwo, 1.0f, dy, cso, src, ld, 0.0f, p->dw,
                K);
    for (long j = 0; j < (long)L->cout * K; j++)
        s += (double)p->dw[j] * p->dw[j];
    return s;
}

int cnnp_fisher(cnnp *p, cnn *n, const float *x, int nimg, uint64_t seed, int exact, double *tr_layer,
                double *total)
{
    int B = n->cfg.batch, K = n->cfg.n_class, nin = p->nin;
    int *idx = p->fl, nl = cnnp_fisher_layers(n, idx);
    memset(tr_layer, 0, sizeof(double) * nl);
    float *g = n->t[n->n_tensor - 1].g;
    for (int first = 0; first < nimg; first += B) {
        int nb = nimg - first < B ? nimg - first : B;
        cnn_forward(n, x + (size_t)first * nin, nb, CNN_EVAL);
        const float *z = cnn_logits(n);
        for (int i = 0; i < nb; i++) { /* softmax in double, and the label drawn from it */
            const float *zi = z + (size_t)i * K;
            double mx = zi[0], s = 0, *pi = p->p + (size_t)i * K;
            for (int k = 1; k < K; k++)
                mx = zi[k] > mx ? zi[k] : mx;
            for (int k = 0; k < K; k++)
                s += pi[k] = exp(zi[k] - mx);
            for (int k = 0; k < K; k++)
                pi[k] /= s;
            double u = (mix(seed ^ mix((uint64_t)(first + i))) >> 11) * 0x1.0p-53, cum = 0;
            p->lab[i] = K - 1; /* u beyond the rounded cumulative sum: the last class */
            for (int k = 0; k < K; k++)
                if (u < (cum += pi[k])) {
                    p->lab[i] = k;
                    break;
                }
        }
        for (int rep = 0; rep < (exact ? K : 1); rep++) {
            for (int i = 0; i < nb; i++) {
                int y = exact ? rep : p->lab[i];
                for (int k = 0; k < K; k++)
                    g[(size_t)i * K + k] = (float)(p->p[(size_t)i * K + k] - (k == y));
            }
            cnn_backward_input(n, NULL);
            for (int l = 0; l < nl; l++)
                for (int i = 0; i < nb; i++) {
                    double wgt = exact ? p->p[(size_t)i * K + rep] : 1.0;
                    tr_layer[l] += wgt * wgrad_sq(p, n, &n->layer[idx[l]], i);
                }
        }
    }
    *total = 0;
    for (int l = 0; l < nl; l++) {
        tr_layer[l] /= nimg;
        *total += tr_layer[l];
    }
    if (!isfinite(*total)) return util_seterr(CS_EFAIL, "non-finite Fisher information trace");
    return CS_OK;
}
