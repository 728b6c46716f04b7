/// A JSON-RPC 2.0 error object: a code from the contract and a message a person can act on. The node answers
/// with it; the clients throw it when an answer carries one.
public struct JSONRPCError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The JSON-RPC error code.
    public var code: Int
    /// A short explanation for the caller.
    public var message: String
    /// The optional `data` member.
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// The error object of an answer (`{"code": -32602, "message": "…"}`); a member that is missing or of the
    /// wrong kind gives -32603 or the object's text as the message.
    public init(_ object: JSONValue) {
        self.init(
            code: object["code"]?.intValue ?? -32603,
            message: object["message"]?.stringValue ?? object.description,
            data: object["data"]
        )
    }

    public var description: String { "JSON-RPC error \(code): \(message)" }

    /// -32700: the text is not JSON.
    public static let parseError = JSONRPCError(code: -32700, message: "Parse error: the request is not valid JSON")
    /// -32600: JSON, but not a JSON-RPC 2.0 request.
    public static func invalidRequest(_ why: String) -> JSONRPCError {
        JSONRPCError(code: -32600, message: "Invalid Request: \(why)")
    }
    /// -32601: no such method (on this endpoint).
    public static func methodNotFound(_ method: String) -> JSONRPCError {
        JSONRPCError(code: -32601, message: "Method not found: \(method)")
    }
    /// -32602: the params do not fit the method.
    public static func invalidParams(_ why: String) -> JSONRPCError {
        JSONRPCError(code: -32602, message: "Invalid params: \(why)")
    }
    /// -32603: the node failed to carry out a valid request.
    public static func internalError(_ why: String) -> JSONRPCError {
        JSONRPCError(code: -32603, message: "Internal error: \(why)")
    }
    /// -32000: `send_data` from a connection that is not subscribed to the channel.
    public static func notSubscriber(_ channel: String) -> JSONRPCError {
        JSONRPCError(code: -32000, message: "Not a subscriber: this client is not subscribed to channel '\(channel)'")
    }
    /// -32003: a `private-` channel without a valid token.
    public static func forbidden(_ why: String) -> JSONRPCError {
        JSONRPCError(code: -32003, message: "Forbidden: \(why)")
    }
    /// -32005: no valid connection token (missing, malformed, wrongly signed, expired), or presence without one.
    public static func unauthorized(_ why: String) -> JSONRPCError {
        JSONRPCError(code: -32005, message: "Unauthorized: \(why)")
    }
    /// -32004: `history`, or `subscribe` with `history` or `recover`, on a node whose history is off.
    public static let historyOff = JSONRPCError(code: -32004, message: "History is off on this node: start it with --history-size N")
    /// -32006: an emit (or a history read) to a history channel whose owner was not ready within 5 s: retry.
    public static func notAccepted(_ why: String) -> JSONRPCError {
        JSONRPCError(code: -32006, message: "Not accepted, retry: \(why)")
    }
    /// -32001: a per-connection limit was reached.
    public static func limitExceeded(_ why: String) -> JSONRPCError {
        JSONRPCError(code: -32001, message: "Limit exceeded: \(why)")
    }
}
