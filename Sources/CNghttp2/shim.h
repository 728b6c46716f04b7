#ifndef ROCKETWS_CNGHTTP2_SHIM_H
#define ROCKETWS_CNGHTTP2_SHIM_H

#include <string.h>
#include <sys/resource.h>
#include <nghttp2/nghttp2.h>

/// The version of libnghttp2 this module was compiled against (a macro in C, a function for Swift).
static inline int CNghttp2_versionNumber(void) { return NGHTTP2_VERSION_NUM; }

/// The HTTP/2 connection preface a client sends first (RFC 9113 section 3.4).
static inline const char *CNghttp2_clientMagic(void) { return NGHTTP2_CLIENT_MAGIC; }
static inline int CNghttp2_clientMagicLength(void) { return NGHTTP2_CLIENT_MAGIC_LEN; }

/// Default SETTINGS_INITIAL_WINDOW_SIZE (65,535) and the largest legal window (2^31 - 1).
static inline int CNghttp2_initialWindowSize(void) { return NGHTTP2_INITIAL_WINDOW_SIZE; }
static inline int CNghttp2_maxWindowSize(void) { return NGHTTP2_MAX_WINDOW_SIZE; }

/// Reads the 8 opaque bytes of a PING frame as one integer (host byte order; only ever compared with what we sent).
static inline uint64_t CNghttp2_pingOpaque(const nghttp2_frame *frame) {
    uint64_t value;
    memcpy(&value, frame->ping.opaque_data, 8);
    return value;
}

/// Submits a PING whose opaque data carries `value` (see `CNghttp2_pingOpaque`).
static inline int CNghttp2_submitPing(nghttp2_session *session, uint64_t value) {
    uint8_t opaque[8];
    memcpy(opaque, &value, 8);
    return nghttp2_submit_ping(session, NGHTTP2_FLAG_NONE, opaque);
}

/// The last stream id carried by a received GOAWAY frame.
static inline int32_t CNghttp2_goawayLastStreamID(const nghttp2_frame *frame) { return frame->goaway.last_stream_id; }
/// The error code carried by a received GOAWAY frame.
static inline uint32_t CNghttp2_goawayErrorCode(const nghttp2_frame *frame) { return frame->goaway.error_code; }
/// The HEADERS category (request, response, push response, trailers) of a received HEADERS frame.
static inline int CNghttp2_headersCategory(const nghttp2_frame *frame) { return (int)frame->headers.cat; }

/// CPU time (user + system, all threads) consumed by this process so far, in nanoseconds
/// (RUSAGE_SELF is a macro on some libcs and an enum on others). Used by the mesh benchmark.
static inline double CNghttp2_processCPUNanos(void) {
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
    return (double)usage.ru_utime.tv_sec * 1e9 + (double)usage.ru_utime.tv_usec * 1e3
        + (double)usage.ru_stime.tv_sec * 1e9 + (double)usage.ru_stime.tv_usec * 1e3;
}

#endif
