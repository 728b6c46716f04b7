import RocketWSClient

/// A failure reported to the user as a single line (`Error: …` on stderr, exit status 1).
struct AdminError: Error, CustomStringConvertible {
    let description: String

    init(_ message: String) {
        self.description = String(message.map { $0.isNewline ? " " : $0 })
    }

    /// A bad JSON command-line argument.
    static func badJSON(_ what: String, _ text: String, _ error: any Error) -> AdminError {
        AdminError("\(what) is not valid JSON (\(error)): \(text.prefix(80))")
    }

    /// Turns any failure of a call to `node` into one readable line.
    static func from(_ error: any Error, node: String) -> AdminError {
        switch error {
        case let error as AdminError:
            return error
        case let error as JSONRPCError:
            return AdminError("node \(node) answered with JSON-RPC error \(error.code): \(error.message)")
        case let error as ClientError where error.isConnectFailure:
            return AdminError("node unreachable: \(error)")
        case let error as ClientError where error.status == 401:
            return AdminError("node \(node) refused the request: wrong or missing API key (HTTP 401)")
        case let error as ClientError:
            return AdminError("node \(node): \(error)")
        default:
            return AdminError("\(error)")
        }
    }
}

/// Runs `body`, turning every error into a one-line ``AdminError``.
func reportingErrors<T>(node: String, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw AdminError.from(error, node: node)
    }
}

/// Parses a JSON command-line argument.
func parseJSONArgument(_ text: String, what: String) throws(AdminError) -> JSONValue {
    do {
        return try JSONValue(parsing: text)
    } catch {
        throw AdminError.badJSON(what, text, error)
    }
}
