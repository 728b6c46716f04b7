import NIOCore
import Testing

@testable import NodeServer

/// Every error code of the contract's bad-input table, and the shape of good answers.
@Suite struct JSONRPCParserTests {
    private func parse(_ text: String) -> JSONRPCBody {
        JSONRPCParser.parse(ByteBuffer(string: text))
    }

    private func single(_ text: String) -> JSONRPCEntry? {
        if case .single(let entry) = parse(text) { return entry }
        return nil
    }

    @Test(arguments: ["{", "not json", "{\"a\":}", "[1,2", "{\"jsonrpc\":\"2.0\",\"method\":\"x\"} trailing", "\"\\x\"", "", "nul", "01", "{\"a\":1,}"])
    func notJSONIsParseError(text: String) {
        guard case .invalid(let error) = parse(text) else {
            Issue.record("expected -32700 for \(text)")
            return
        }
        #expect(error.code == -32700)
    }

    @Test(arguments: [
        #"{"method":"ping","id":1}"#,  // no jsonrpc
        #"{"jsonrpc":"1.0","method":"ping","id":1}"#,
        #"{"jsonrpc":2.0,"method":"ping","id":1}"#,
        #"{"jsonrpc":"2.0","id":1}"#,  // no method
        #"{"jsonrpc":"2.0","method":5,"id":1}"#,
        #"{"jsonrpc":"2.0","method":"ping","id":{"a":1}}"#,
        #"{"jsonrpc":"2.0","method":"ping","params":"x","id":1}"#,
        "5", "\"text\"", "null",
    ])
    func notARequestIsInvalidRequest(text: String) {
        guard case .invalid(let error, _) = single(text) else {
            Issue.record("expected -32600 for \(text)")
            return
        }
        #expect(error.code == -32600)
    }

    @Test func invalidRequestKeepsTheIDWhenReadable() {
        guard case .invalid(let error, let id) = single(#"{"jsonrpc":"1.0","method":"ping","id":"abc"}"#) else {
            Issue.record("expected invalid")
            return
        }
        #expect(error.code == -32600)
        #expect(id == Array(#""abc""#.utf8))
    }

    @Test func emptyBatchIsOneInvalidRequest() {
        guard case .invalid(let error) = parse("[ ]") else {
            Issue.record("expected -32600")
            return
        }
        #expect(error.code == -32600)
    }

    @Test func batchGivesOneEntryPerElement() {
        guard case .batch(let entries) = parse(#"[{"jsonrpc":"2.0","method":"ping","id":1}, 7, {"jsonrpc":"2.0","method":"ping"}]"#) else {
            Issue.record("expected batch")
            return
        }
        #expect(entries.count == 3)
        guard case .request(let first) = entries[0], case .invalid(let e, _) = entries[1], case .request(let third) = entries[2] else {
            Issue.record("unexpected entries \(entries)")
            return
        }
        #expect(first.method == "ping" && first.id == Array("1".utf8))
        #expect(e.code == -32600)
        #expect(third.isNotification)
    }

    @Test func channelAndDataKeepsRawBytes() throws {
        let text = #"{"jsonrpc":"2.0","id":7,"method":"emit","params":{"data": {"b": [1, 2], "s":"\u00e9"} ,"channel":"ch\u0061t"}}"#
        guard case .request(let request) = single(text) else {
            Issue.record("expected a request")
            return
        }
        let params = try request.channelAndData().get()
        #expect(params.channel == "chat")
        #expect(String(buffer: params.data) == #"{"b": [1, 2], "s":"\u00e9"}"#)
    }

    @Test(arguments: [
        #"{"channel":"c"}"#,  // no data
        #"{"data":{}}"#,  // no channel
        #"{"channel":"","data":{}}"#,
        #"{"channel":5,"data":{}}"#,
        #"{"channel":"c","data":[1]}"#,
        #"{"channel":"c","data":"x"}"#,
    ])
    func badEmitParamsAreInvalidParams(params: String) {
        guard case .request(let request) = single(#"{"jsonrpc":"2.0","id":1,"method":"emit","params":"# + params + "}") else {
            Issue.record("expected a request")
            return
        }
        guard case .failure(let error) = request.channelAndData() else {
            Issue.record("expected -32602 for \(params)")
            return
        }
        #expect(error.code == -32602)
    }

    @Test func channelNamesOver255BytesAreRefused() {
        let long = String(repeating: "é", count: 128)  // 256 bytes
        let ok = String(repeating: "a", count: 255)
        #expect((try? JSONRPCRequest.validateChannel(.string(long)).get()) == nil)
        #expect((try? JSONRPCRequest.validateChannel(.string(ok)).get()) == ok)
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        guard case .invalid(let error) = parse(deep) else {
            Issue.record("expected -32700")
            return
        }
        #expect(error.code == -32700)
    }

    @Test func responsesAreCompactJSON() throws {
        let ok = JSONRPCResponse.result(.object(["emitted": .int(2), "nodes": .int(1)]), id: Array("3".utf8))
        #expect(String(decoding: ok, as: UTF8.self) == #"{"jsonrpc":"2.0","result":{"emitted":2,"nodes":1},"id":3}"#)
        let err = JSONRPCResponse.error(.notSubscriber("a\"b"), id: nil)
        let value = try JSONValue(parsing: err)
        #expect(value["error"]?["code"] == .int(-32000))
        #expect(value["id"] == .null)
        #expect(value["error"]?["message"]?.stringValue?.contains("a\"b") == true)
    }

    @Test func jsonValueRoundTrips() throws {
        let text = #"{"a":[1,2.5e3,-0.1,true,false,null],"b":"x\ny\u0001\ud83d\ude00"}"#
        let value = try JSONValue(parsing: text)
        let again = try JSONValue(parsing: value.serialized())
        #expect(value == again)
        #expect(value["b"]?.stringValue == "x\ny\u{1}😀")
    }

    /// The one JSON parser (RocketWSProtocol) accepts exactly what the node's validating scanner accepts, at the
    /// edges too: unpaired surrogates and bytes that are not UTF-8 (both become U+FFFD), the nesting limit,
    /// a number too large for a Double (written back as 1e999, which parses to the same value).
    @Test(arguments: [
        Array(#"{"a":"\ud800"}"#.utf8), Array(#"["\udc00x","\ud83d\ude00"]"#.utf8), [0x22, 0xFF, 0xFE, 0x22],
        Array((String(repeating: "[", count: 256) + String(repeating: "]", count: 256)).utf8),
        Array((String(repeating: "[", count: 257) + String(repeating: "]", count: 257)).utf8),
        Array("[1e400,-1e400]".utf8), Array(#"["\u12G4"]"#.utf8),
    ])
    func parserAndScannerAgree(bytes: [UInt8]) throws {
        let parsed = try? JSONValue(parsing: bytes)
        #expect((parsed != nil) == bytes.withUnsafeBytes { FuzzEntryPoints.isJSON($0) })
        if let parsed { #expect(try JSONValue(parsing: parsed.serialized()) == parsed) }
    }

    @Test func unpairedSurrogatesBecomeTheReplacementCharacter() throws {
        #expect(try JSONValue(parsing: #""a\ud800b""#) == "a\u{FFFD}b")
        #expect(try JSONValue(parsing: #""\ud83d\ude00""#) == "😀")
    }
}
