#ifndef ROCKETWS_CNGHTTP2_SHIM_H
#define ROCKETWS_CNGHTTP2_SHIM_H

#include <nghttp2/nghttp2.h>

/// The version of libnghttp2 this module was compiled against (a macro in C, a function for Swift).
static inline int CNghttp2_versionNumber(void) { return NGHTTP2_VERSION_NUM; }

/// The HTTP/2 connection preface a client sends first (RFC 9113 section 3.4).
static inline const char *CNghttp2_clientMagic(void) { return NGHTTP2_CLIENT_MAGIC; }
static inline int CNghttp2_clientMagicLength(void) { return NGHTTP2_CLIENT_MAGIC_LEN; }

/// Default SETTINGS_INITIAL_WINDOW_SIZE (65,535) and the largest legal window (2^31 - 1).
static inline int CNghttp2_initialWindowSize(void) { return NGHTTP2_INITIAL_WINDOW_SIZE; }
static inline int CNghttp2_maxWindowSize(void) { return NGHTTP2_MAX_WINDOW_SIZE; }

#endif
