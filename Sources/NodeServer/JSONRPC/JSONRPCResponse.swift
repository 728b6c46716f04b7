import NIOCore

/// Encodes JSON-RPC 2.0 responses straight into bytes.
public enum JSONRPCResponse {
    static let nullID: [UInt8] = Array("null".utf8)

    /// `{"jsonrpc":"2.0","result":RESULT,"id":ID}`
    public static func result(_ result: JSONValue, id: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        bytes.append(contentsOf: #"{"jsonrpc":"2.0","result":"#.utf8)
        result.write(into: &bytes)
        bytes.append(contentsOf: #","id":"#.utf8)
        bytes.append(contentsOf: id)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `{"jsonrpc":"2.0","error":{"code":C,"message":M},"id":ID}`
    public static func error(_ error: JSONRPCError, id: [UInt8]?) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(96)
        bytes.append(contentsOf: #"{"jsonrpc":"2.0","error":{"code":"#.utf8)
        bytes.append(contentsOf: String(error.code).utf8)
        bytes.append(contentsOf: #","message":"#.utf8)
        JSONString.appendQuoted(error.message, to: &bytes)
        bytes.append(contentsOf: #"},"id":"#.utf8)
        bytes.append(contentsOf: id ?? nullID)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// Joins the answers of a batch into one JSON array, or `nil` when there is nothing to answer.
    public static func batch(_ answers: [[UInt8]]) -> [UInt8]? {
        guard !answers.isEmpty else { return nil }
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        for (i, answer) in answers.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: answer)
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }
}
