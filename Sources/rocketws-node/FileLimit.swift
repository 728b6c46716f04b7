import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Every WebSocket client is a file descriptor: start with the soft limit raised to the hard one.
enum FileLimit {
    static func raiseToHardLimit(logger: Logger) {
        #if canImport(Glibc)
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        let before = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            logger.debug("raised the open-file limit", metadata: ["node/from": "\(before)", "node/to": "\(limit.rlim_max)"])
        }
        #endif
    }
}
