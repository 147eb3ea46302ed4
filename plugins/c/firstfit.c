// Example placement policy in C: `example-c-firstfit`.
//
// Each new replica goes to the first node (lowest index) with enough free
// cpu and memory that anti-affinity allows. It shows that the interface is
// language-neutral; it is not meant to be a good policy.
//
// Built by plugins/build.sh: bindings from `wit-bindgen c` (policy.h,
// policy.c, policy_component_type.o), clang-14 for wasm32 with wasi-libc's
// headers and malloc, no stdio (so the module imports nothing), then turned
// into a component.
#include "policy.h"

#include <stdlib.h>
#include <string.h>

typedef exports_twip_policy_placement_request_t request_t;
typedef exports_twip_policy_placement_service_t service_t;
typedef exports_twip_policy_placement_place_error_t place_error_t;

// Strings handed to the host are freed by the bindings after the call, so
// they must come from malloc.
static policy_string_t owned(const char *s, size_t n) {
  policy_string_t out = {(uint8_t *)malloc(n ? n : 1), n};
  if (!out.ptr) abort();
  memcpy(out.ptr, s, n);
  return out;
}

static policy_string_t owned_cstr(const char *s) { return owned(s, strlen(s)); }

void exports_twip_policy_placement_info(exports_twip_policy_placement_policy_info_t *ret) {
  ret->name = owned_cstr("example-c-firstfit");
  ret->version = owned_cstr("0.1.0");
  ret->description = owned_cstr("C example: each replica on the first node that fits");
}

// A tiny string builder (no stdio: it would pull in WASI imports).
typedef struct {
  char buf[256];
  size_t len;
} msg_t;

static void put(msg_t *m, const char *s, size_t n) {
  for (size_t i = 0; i < n && m->len < sizeof m->buf; i++) m->buf[m->len++] = s[i];
}
static void put_cstr(msg_t *m, const char *s) { put(m, s, strlen(s)); }
static void put_u32(msg_t *m, uint32_t v) {
  char tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) put(m, &tmp[--n], 1);
}

static bool fail(place_error_t *err, request_t *req, uint8_t kind, const service_t *s,
                 uint32_t placed, const char *why) {
  msg_t m = {.len = 0};
  put_cstr(&m, "service '");
  put(&m, (const char *)s->name.ptr, s->name.len);
  put_cstr(&m, "': ");
  put_u32(&m, placed);
  put_cstr(&m, " of ");
  put_u32(&m, s->replicas);
  put_cstr(&m, " replicas placed; ");
  put_cstr(&m, why);
  err->kind = kind;
  err->message = owned(m.buf, m.len);
  exports_twip_policy_placement_request_free(req);
  return false;
}

bool exports_twip_policy_placement_place(request_t *req,
                                         exports_twip_policy_placement_assignments_t *ret,
                                         place_error_t *err) {
  size_t n = req->nodes.len, total = 0;
  for (size_t s = 0; s < req->services.len; s++) total += req->services.ptr[s].replicas;
  uint32_t *free_cpu = calloc(n + 1, sizeof(uint32_t));
  uint32_t *free_mem = calloc(n + 1, sizeof(uint32_t));
  uint32_t *count = calloc(n + 1, sizeof(uint32_t));
  uint32_t *zone_count = calloc(req->zones.len + 1, sizeof(uint32_t));
  uint32_t *out = malloc((total + 1) * sizeof(uint32_t));
  if (!free_cpu || !free_mem || !count || !zone_count || !out) abort();
  for (size_t i = 0; i < n; i++) {
    free_cpu[i] = req->nodes.ptr[i].cpu_millis;
    free_mem[i] = req->nodes.ptr[i].memory_mib;
  }
  // Existing replicas that are kept use capacity first.
  for (size_t s = 0; s < req->services.len; s++) {
    const service_t *sv = &req->services.ptr[s];
    size_t keep = sv->existing.len < sv->replicas ? sv->existing.len : sv->replicas;
    for (size_t r = 0; r < keep; r++) {
      uint32_t x = sv->existing.ptr[r];
      if (x >= n || free_cpu[x] < sv->cpu_millis || free_mem[x] < sv->memory_mib)
        return fail(err, req, EXPORTS_TWIP_POLICY_PLACEMENT_ERROR_KIND_INVALID_REQUEST, sv, 0,
                    "an existing replica is on an unknown or overcommitted node");
      free_cpu[x] -= sv->cpu_millis;
      free_mem[x] -= sv->memory_mib;
    }
  }
  size_t at = 0;
  for (size_t s = 0; s < req->services.len; s++) {
    const service_t *sv = &req->services.ptr[s];
    size_t keep = sv->existing.len < sv->replicas ? sv->existing.len : sv->replicas;
    memset(count, 0, n * sizeof(uint32_t));
    memset(zone_count, 0, req->zones.len * sizeof(uint32_t));
    for (size_t r = 0; r < keep; r++) {
      uint32_t x = sv->existing.ptr[r];
      out[at++] = x;
      count[x]++;
      zone_count[req->nodes.ptr[x].zone]++;
    }
    for (uint32_t r = (uint32_t)keep; r < sv->replicas; r++) {
      size_t i = 0;
      bool blocked = false;
      for (; i < n; i++) {
        if (free_cpu[i] < sv->cpu_millis || free_mem[i] < sv->memory_mib) continue;
        if (sv->anti_affinity.is_some) {
          uint32_t c = sv->anti_affinity.val == EXPORTS_TWIP_POLICY_PLACEMENT_TOPOLOGY_ZONE
                           ? zone_count[req->nodes.ptr[i].zone]
                           : count[i];
          if (c > 0) {
            blocked = true;
            continue;
          }
        }
        break;
      }
      if (i == n)
        return blocked ? fail(err, req, EXPORTS_TWIP_POLICY_PLACEMENT_ERROR_KIND_UNSATISFIABLE, sv,
                              r, "anti-affinity leaves no free node or zone")
                       : fail(err, req, EXPORTS_TWIP_POLICY_PLACEMENT_ERROR_KIND_INSUFFICIENT_CAPACITY,
                              sv, r, "no node has enough free cpu and memory");
      free_cpu[i] -= sv->cpu_millis;
      free_mem[i] -= sv->memory_mib;
      count[i]++;
      zone_count[req->nodes.ptr[i].zone]++;
      out[at++] = (uint32_t)i;
    }
  }
  free(free_cpu);
  free(free_mem);
  free(count);
  free(zone_count);
  exports_twip_policy_placement_request_free(req);
  ret->ptr = out;
  ret->len = at;
  return true;
}
