#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fills in options from `ROCKETWS_*` environment variables: `--ws-conn` <-> `ROCKETWS_WS_CONN`. A flag on the
/// command line wins over its variable.
enum Environment {
    static let options = [
        "ws-conn", "ms-conn", "peer-conn", "node-name", "advertise", "join", "cluster-secret", "peer-queue-bytes", "api-key",
        "max-message-bytes", "max-queue-bytes", "max-channels", "max-connections", "allowed-origins", "max-requests-per-second", "private-channel-secret", "flush-delay-us", "max-flush-delay-us", "fan-out-nice", "threads", "log-level",
        "ping-interval-s", "pong-timeout-s", "handshake-timeout-s", "http-idle-timeout-s",
        "amqp-url", "amqp-queue", "amqp-prefetch", "amqp-message-ttl-s", "amqp-heartbeat-s",
        "history-size", "history-ttl-s",
    ]

    static func variable(for option: String) -> String {
        "ROCKETWS_" + String(option.uppercased().map { $0 == "-" ? "_" : $0 })
    }

    /// `arguments` plus `--option value` for every variable set whose option is not given.
    static func merged(_ arguments: [String]) -> [String] {
        var result = arguments
        for option in options {
            let flag = "--\(option)"
            if arguments.contains(where: { $0 == flag || $0.hasPrefix(flag + "=") }) { continue }
            guard let raw = getenv(variable(for: option)) else { continue }
            result.append(flag)
            result.append(String(cString: raw))
        }
        return result
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmed: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
