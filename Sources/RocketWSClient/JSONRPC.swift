/// JSON-RPC 2.0 helpers shared by both clients.
public enum JSONRPC {
    /// The request object `{"jsonrpc":"2.0","method":…,"params":…,"id":…}`; no `id` makes it a notification.
    public static func request(method: String, params: JSONValue? = nil, id: JSONValue? = nil) -> JSONValue {
        var object: [String: JSONValue] = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { object["params"] = params }
        if let id { object["id"] = id }
        return .object(object)
    }

    /// The `result` of a response object, or the `error` thrown as ``JSONRPCError``.
    public static func result(of response: JSONValue) throws -> JSONValue {
        if let error = response["error"], !error.isNull {
            throw JSONRPCError(error)
        }
        guard let result = response["result"] else {
            throw JSONRPCError(code: -32603, message: "response has neither result nor error: \(response)")
        }
        return result
    }

    /// True for a JSON-RPC response (as opposed to a pushed message) answering a request with an id.
    static func isResponse(_ value: JSONValue) -> Bool {
        guard case .object(let members) = value else { return false }
        return members["jsonrpc"] != nil && members["id"] != nil
            && (members["result"] != nil || members["error"] != nil) && members["__type"] == nil
    }
}
