import RocketWSClient
import Testing

@Suite struct JSONValueTests {
    @Test func parsesAndSerializesRoundTrip() throws {
        let text = #"{"a":[1,2.5,-3e2,true,false,null],"b":{"c":"x\"y\\z\n\u00e9\ud83d\ude00"},"d":""}"#
        let value = try JSONValue(parsing: text)
        #expect(value["a"]?[0] == 1)
        #expect(value["a"]?[1] == 2.5)
        #expect(value["a"]?[2] == -300)
        #expect(value["a"]?[3] == true)
        #expect(value["a"]?[5]?.isNull == true)
        #expect(value["b"]?["c"]?.stringValue == "x\"y\\z\né😀")
        #expect(try JSONValue(parsing: value.serialized()) == value)
        #expect(try JSONValue(parsing: value.serialized(pretty: true)) == value)
    }

    @Test func keepsLargeIntegersExact() throws {
        let value = try JSONValue(parsing: #"{"t": 1764300000123456789}"#)
        #expect(value["t"]?.intValue == 1_764_300_000_123_456_789)
    }

    @Test func serializesSortedAndCompact() {
        let value: JSONValue = ["b": 1, "a": ["x": [true, nil]], "c": "\u{1}"]
        #expect(value.serialized() == #"{"a":{"x":[true,null]},"b":1,"c":"\u0001"}"#)
        #expect(JSONValue.double(2).serialized() == "2")
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"abc", "{} x", "\"\\x\"", "-", "[1 2]"])
    func rejectsInvalid(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func comparesNumbersByValue() {
        #expect(JSONValue.int(3) == JSONValue.double(3.0))
        #expect(JSONValue.int(3) != JSONValue.string("3"))
    }

    @Test func encodesJSONRPCRequests() throws {
        let request = JSONRPC.request(method: "emit", params: ["channel": "chat", "data": ["a": 1]], id: 7)
        #expect(
            request.serialized()
                == #"{"id":7,"jsonrpc":"2.0","method":"emit","params":{"channel":"chat","data":{"a":1}}}"#
        )
        let notification = JSONRPC.request(method: "ping")
        #expect(notification.serialized() == #"{"jsonrpc":"2.0","method":"ping"}"#)
        #expect(try JSONRPC.result(of: ["jsonrpc": "2.0", "id": 1, "result": "ok"]) == "ok")
        #expect(throws: JSONRPCError(code: -32601, message: "Method not found")) {
            try JSONRPC.result(of: [
                "jsonrpc": "2.0", "id": 1, "error": ["code": -32601, "message": "Method not found"],
            ])
        }
    }
}

@Suite struct EndpointTests {
    @Test func parsesForms() throws {
        #expect(
            try Endpoint(parsing: "http://127.0.0.1:59999") == Endpoint(scheme: "http", host: "127.0.0.1", port: 59999)
        )
        #expect(try Endpoint(parsing: "ws://node-1:58000/x", defaultScheme: "ws").path == "/x")
        #expect(try Endpoint(parsing: "localhost:1234").host == "localhost")
        #expect(try Endpoint(parsing: ":1234").host == "127.0.0.1")
        let v6 = try Endpoint(parsing: "http://[::1]:59999/")
        #expect(v6.host == "::1" && v6.port == 59999 && v6.hostHeader == "[::1]:59999")
        #expect(try Endpoint(parsing: "http://example.com").port == 80)
    }

    @Test(arguments: ["ftp://x:1", "http://x:0", "http://x:99999", "http://x:abc", "[::1"])
    func rejects(_ text: String) {
        #expect(throws: EndpointError.self) { try Endpoint(parsing: text) }
    }
}

@Suite struct BenchHelperTests {
    @Test func probesSeqAndTime() {
        let buffer = ByteBufferHelper.make(
            #"{"__channel":"bench","__ts":17,"__type":"message","seq": 42,"t":1764300000123456789}"#
        )
        let probe = Bench.probe(buffer)
        #expect(probe?.seq == 42)
        #expect(probe?.t == 1_764_300_000_123_456_789)
        #expect(Bench.probe(ByteBufferHelper.make(#"{"jsonrpc":"2.0","id":1,"result":"subscribed"}"#)) == nil)
    }

    @Test func histogramPercentiles() {
        var histogram = LatencyHistogram()
        for value in 1...1000 { histogram.record(micros: value * 10) }
        #expect(histogram.count == 1000)
        #expect(histogram.maxMicros == 10000)
        let p50 = histogram.percentile(0.5)
        #expect(abs(p50 - 5000) < 5000 / 30)
        let p99 = histogram.percentile(0.99)
        #expect(abs(p99 - 9900) < 9900 / 30)
        var other = LatencyHistogram()
        other.record(micros: 50000)
        histogram.merge(other)
        #expect(histogram.maxMicros == 50000 && histogram.count == 1001)
    }
}
