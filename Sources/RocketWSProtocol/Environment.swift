#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `ROCKETWS_*` environment variables, for both executables: the node fills in its flags from them
/// (`--ws-conn` <-> `ROCKETWS_WS_CONN`, a flag on the command line wins), the admin tool reads
/// `ROCKETWS_NODE` and `ROCKETWS_API_KEY`.
public enum Environment {
    /// The value of variable `name`; nil when it is not set or empty.
    public static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : value
    }

    /// The variable of flag `option` (`ws-conn` -> `ROCKETWS_WS_CONN`).
    public static func variable(for option: String) -> String {
        "ROCKETWS_" + String(option.uppercased().map { $0 == "-" ? "_" : $0 })
    }

    /// `arguments` plus `--option value` for every one of `options` whose variable is set (even to the empty
    /// text) and that `arguments` do not give.
    public static func merged(_ arguments: [String], options: [String]) -> [String] {
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
