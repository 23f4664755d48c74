/*
 * A fault-injecting PKCS#11 module for certmint's tests: it loads the real module named by
 * FAULT_PKCS11_MODULE (SoftHSM2), hands out the real function list with a few entries
 * wrapped, and misbehaves as the file named by FAULT_PKCS11_CONTROL says. The file holds
 * "MODE EPOCH" and is read on every wrapped call:
 *
 *   ok N        pass everything through
 *   absent N    the token is gone: no slot has a token, C_OpenSession and C_GetTokenInfo say
 *               CKR_TOKEN_NOT_PRESENT, calls on open sessions say CKR_DEVICE_REMOVED
 *   sessions N  when N changes: every session of every slot is closed (an HSM fail-over);
 *               then pass through
 *   finalize N  when N changes: the real module is finalised (as if another library in the
 *               process called C_Finalize); then pass through, so calls fail with
 *               CKR_CRYPTOKI_NOT_INITIALIZED until the caller initialises it again
 *   wrong N     C_Sign returns a signature with one bit flipped
 *
 * Only the PKCS#11 v2.40 function list is offered (no C_GetInterface).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long CK_RV;
typedef unsigned long CK_ULONG;
typedef unsigned char CK_BYTE;
typedef CK_BYTE CK_BBOOL;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;

#define CKR_OK 0x0UL
#define CKR_DEVICE_REMOVED 0x32UL
#define CKR_TOKEN_NOT_PRESENT 0xE0UL
#define CKR_GENERAL_ERROR 0x5UL

/* CK_FUNCTION_LIST: a CK_VERSION, then the 68 v2.40 functions in the standard's order. */
struct function_list {
    CK_BYTE version[2];
    void *fn[68];
};
enum {
    I_GET_SLOT_LIST = 4,
    I_GET_TOKEN_INFO = 6,
    I_OPEN_SESSION = 12,
    I_CLOSE_ALL_SESSIONS = 14,
    I_LOGIN = 18,
    I_FIND_OBJECTS_INIT = 26,
    I_SIGN_INIT = 42,
    I_SIGN = 43,
    I_FINALIZE = 1,
};

typedef CK_RV (*get_function_list_fn)(struct function_list **);
typedef CK_RV (*get_slot_list_fn)(CK_BBOOL, CK_SLOT_ID *, CK_ULONG *);
typedef CK_RV (*get_token_info_fn)(CK_SLOT_ID, void *);
typedef CK_RV (*open_session_fn)(CK_SLOT_ID, CK_ULONG, void *, void *, CK_SESSION_HANDLE *);
typedef CK_RV (*close_all_fn)(CK_SLOT_ID);
typedef CK_RV (*login_fn)(CK_SESSION_HANDLE, CK_ULONG, CK_BYTE *, CK_ULONG);
typedef CK_RV (*find_init_fn)(CK_SESSION_HANDLE, void *, CK_ULONG);
typedef CK_RV (*sign_init_fn)(CK_SESSION_HANDLE, void *, CK_ULONG);
typedef CK_RV (*sign_fn)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG *);
typedef CK_RV (*finalize_fn)(void *);

static struct function_list *real;
static struct function_list wrapped;
static long acted_epoch = -1;

enum mode { OK, ABSENT, SESSIONS, FINALIZE, WRONG };

/* The current mode; acts once on a new epoch for the modes that do something once. */
static enum mode mode(void) {
    const char *path = getenv("FAULT_PKCS11_CONTROL");
    char word[16] = "ok";
    long epoch = 0;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f) {
        if (fscanf(f, "%15s %ld", word, &epoch) < 1) {
            strcpy(word, "ok");
        }
        fclose(f);
    }
    enum mode m = !strcmp(word, "absent")     ? ABSENT
                  : !strcmp(word, "sessions") ? SESSIONS
                  : !strcmp(word, "finalize") ? FINALIZE
                  : !strcmp(word, "wrong")    ? WRONG
                                              : OK;
    if (epoch != acted_epoch) {
        acted_epoch = epoch;
        if (m == SESSIONS) {
            CK_SLOT_ID slots[64];
            CK_ULONG n = 64;
            if (((get_slot_list_fn)real->fn[I_GET_SLOT_LIST])(0, slots, &n) == CKR_OK) {
                for (CK_ULONG i = 0; i < n; i++) {
                    ((close_all_fn)real->fn[I_CLOSE_ALL_SESSIONS])(slots[i]);
                }
            }
        } else if (m == FINALIZE) {
            ((finalize_fn)real->fn[I_FINALIZE])(NULL);
        }
    }
    return m;
}

static CK_RV get_slot_list(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG *count) {
    if (mode() == ABSENT && present) {
        *count = 0;
        return CKR_OK;
    }
    return ((get_slot_list_fn)real->fn[I_GET_SLOT_LIST])(present, list, count);
}

static CK_RV get_token_info(CK_SLOT_ID slot, void *info) {
    if (mode() == ABSENT) return CKR_TOKEN_NOT_PRESENT;
    return ((get_token_info_fn)real->fn[I_GET_TOKEN_INFO])(slot, info);
}

static CK_RV open_session(CK_SLOT_ID slot, CK_ULONG flags, void *app, void *notify,
                          CK_SESSION_HANDLE *session) {
    if (mode() == ABSENT) return CKR_TOKEN_NOT_PRESENT;
    return ((open_session_fn)real->fn[I_OPEN_SESSION])(slot, flags, app, notify, session);
}

static CK_RV login(CK_SESSION_HANDLE s, CK_ULONG user, CK_BYTE *pin, CK_ULONG len) {
    if (mode() == ABSENT) return CKR_DEVICE_REMOVED;
    return ((login_fn)real->fn[I_LOGIN])(s, user, pin, len);
}

static CK_RV find_objects_init(CK_SESSION_HANDLE s, void *templ, CK_ULONG n) {
    if (mode() == ABSENT) return CKR_DEVICE_REMOVED;
    return ((find_init_fn)real->fn[I_FIND_OBJECTS_INIT])(s, templ, n);
}

static CK_RV sign_init(CK_SESSION_HANDLE s, void *mechanism, CK_ULONG key) {
    if (mode() == ABSENT) return CKR_DEVICE_REMOVED;
    return ((sign_init_fn)real->fn[I_SIGN_INIT])(s, mechanism, key);
}

static CK_RV sign(CK_SESSION_HANDLE s, CK_BYTE *data, CK_ULONG len, CK_BYTE *sig,
                  CK_ULONG *sig_len) {
    enum mode m = mode();
    if (m == ABSENT) return CKR_DEVICE_REMOVED;
    CK_RV rv = ((sign_fn)real->fn[I_SIGN])(s, data, len, sig, sig_len);
    if (m == WRONG && rv == CKR_OK && sig != NULL && *sig_len > 0) {
        sig[*sig_len / 2] ^= 0x01;
    }
    return rv;
}

CK_RV C_GetFunctionList(struct function_list **list) {
    if (!real) {
        const char *path = getenv("FAULT_PKCS11_MODULE");
        void *lib = dlopen(path ? path : "/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_LOCAL);
        if (!lib) return CKR_GENERAL_ERROR;
        get_function_list_fn get = (get_function_list_fn)dlsym(lib, "C_GetFunctionList");
        if (!get || get(&real) != CKR_OK) return CKR_GENERAL_ERROR;
        wrapped = *real;
        wrapped.fn[3] = (void *)C_GetFunctionList;
        wrapped.fn[I_GET_SLOT_LIST] = (void *)get_slot_list;
        wrapped.fn[I_GET_TOKEN_INFO] = (void *)get_token_info;
        wrapped.fn[I_OPEN_SESSION] = (void *)open_session;
        wrapped.fn[I_LOGIN] = (void *)login;
        wrapped.fn[I_FIND_OBJECTS_INIT] = (void *)find_objects_init;
        wrapped.fn[I_SIGN_INIT] = (void *)sign_init;
        wrapped.fn[I_SIGN] = (void *)sign;
    }
    *list = &wrapped;
    return CKR_OK;
}
