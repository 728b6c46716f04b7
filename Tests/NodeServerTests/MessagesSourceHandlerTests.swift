import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import NodeServer

/// The MessagesSource handler on an EmbeddedChannel: HTTP bytes in, HTTP bytes out.
@Suite struct MessagesSourceHandlerTests {
    /// A backend API that answers every body with its own text reversed, or nothing for "notify".
    final class EchoAPI: BackendAPI {
        func handleBackendBody(_ body: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
            let text = String(buffer: body)
            return loop.makeSucceededFuture(text == "notify" ? nil : Array(text.reversed().map { $0.asciiValue ?? 0 }))
        }
        func healthBody() -> [UInt8] { Array(#"{"status":"ok"}"#.utf8) }
        func metricsText() -> [UInt8] { Array("m 1\n".utf8) }
        func refusedUnauthorized() {}
    }

    private func exchange(_ request: String, apiKey: String? = nil, maxBody: Int = 1024) throws -> String {
        let channel = EmbeddedChannel()
        var settings = HTTPMessagesSourceSettings()
        settings.apiKey = apiKey
        settings.maxBodyBytes = maxBody
        try MessagesSourceHandler.configure(channel.pipeline.syncOperations, api: EchoAPI(), settings: settings)
        // A request answered early (413) closes the connection mid-body; the parser then reports the cut.
        _ = try? channel.writeInbound(ByteBuffer(string: request))
        let out = try Self.drain(channel)
        _ = try? channel.finish()
        return out
    }

    @Test func postIsAnsweredWithTheAPIsBytes() throws {
        let response = try exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        #expect(response.hasPrefix("HTTP/1.1 200 OK"))
        #expect(response.hasSuffix("cba"))
    }

    @Test func nothingToAnswerIs204() throws {
        let response = try exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nnotify")
        #expect(response.hasPrefix("HTTP/1.1 204 No Content"))
    }

    @Test func statusCodes() throws {
        #expect(try exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").contains(#"{"status":"ok"}"#))
        #expect(try exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n").hasPrefix("HTTP/1.1 405"))
        #expect(try exchange("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").hasPrefix("HTTP/1.1 404"))
        #expect(try exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n").hasPrefix("HTTP/1.1 413"))
        #expect(try exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na", apiKey: "k").hasPrefix("HTTP/1.1 401"))
        #expect(try exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\r\n", apiKey: "k").hasSuffix("m 1\n"))
        #expect(try exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", apiKey: "k").hasPrefix("HTTP/1.1 200"))
    }

    @Test func chunkedBodiesOverTheLimitAre413() throws {
        let chunk = String(repeating: "a", count: 600)
        let request = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n"
        #expect(try exchange(request).hasPrefix("HTTP/1.1 413"))
    }

    /// A backend API whose answers complete when the test says so.
    final class HeldAPI: BackendAPI, @unchecked Sendable {
        var promises: [(String, EventLoopPromise<[UInt8]?>)] = []
        func handleBackendBody(_ body: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
            let promise = loop.makePromise(of: [UInt8]?.self)
            promises.append((String(buffer: body), promise))
            return promise.futureResult
        }
        func healthBody() -> [UInt8] { Array(#"{"status":"ok"}"#.utf8) }
        func metricsText() -> [UInt8] { [] }
        func refusedUnauthorized() {}
    }

    /// Counts the `read` calls that get through to the socket end of the pipeline.
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    private static func post(_ body: String) -> String {
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    /// A backend connection whose answers complete when the test says so; `counter`, when given, sits at the
    /// socket end of the pipeline.
    private static func heldConnection(counting counter: ReadCounter? = nil) throws -> (EmbeddedChannel, HeldAPI) {
        let channel = EmbeddedChannel()
        if let counter { try channel.pipeline.syncOperations.addHandler(counter) }
        let api = HeldAPI()
        try MessagesSourceHandler.configure(channel.pipeline.syncOperations, api: api, settings: HTTPMessagesSourceSettings())
        return (channel, api)
    }

    private static func drain(_ channel: EmbeddedChannel) throws -> String {
        var out = ""
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { out += chunk.readString(length: chunk.readableBytes) ?? "" }
        return out
    }

    @Test func pipelinedRequestsAreAnsweredInOrderWhateverOrderTheyComplete() throws {
        let (channel, api) = try Self.heldConnection()
        try channel.writeInbound(ByteBuffer(string: Self.post("one") + Self.post("two") + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + Self.post("four")))
        #expect(api.promises.map(\.0) == ["one", "two", "four"])
        #expect(try Self.drain(channel).isEmpty, "nothing is answered before the first request")
        api.promises[2].1.succeed(Array("4".utf8))
        api.promises[1].1.succeed(Array("2".utf8))
        #expect(try Self.drain(channel).isEmpty)
        api.promises[0].1.succeed(Array("1".utf8))
        let out = try Self.drain(channel)
        let bodies = out.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix(while: { $0 != "H" }) }
        #expect(bodies == ["1", "2", #"{"status":"ok"}"#, "4"])
        _ = try? channel.finish()
    }

    @Test func readingPausesWhileTooManyRequestsAwaitTheirAnswers() throws {
        let counter = ReadCounter()
        let (channel, api) = try Self.heldConnection(counting: counter)
        let many = (0..<MessagesSourceHandler.maxPipelined).map { Self.post("r\($0)") }.joined()
        try channel.writeInbound(ByteBuffer(string: many))
        let before = counter.reads
        channel.pipeline.read()
        #expect(counter.reads == before, "a read is held while \(MessagesSourceHandler.maxPipelined) answers are pending")
        api.promises[0].1.succeed(Array("x".utf8))
        #expect(counter.reads == before + 1, "the held read goes out once an answer is written")
        channel.pipeline.read()
        #expect(counter.reads == before + 2)
        for (_, promise) in api.promises.dropFirst() { promise.succeed(nil) }
        _ = try? channel.finish()
    }

    @Test func aClosingAnswerEndsTheConnectionAfterTheEarlierAnswers() throws {
        let (channel, api) = try Self.heldConnection()
        try channel.writeInbound(ByteBuffer(string: Self.post("one") + "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\ntwo"))
        api.promises[1].1.succeed(Array("2".utf8))
        api.promises[0].1.succeed(Array("1".utf8))
        let out = try Self.drain(channel)
        #expect(out.hasPrefix("HTTP/1.1 200 OK"))
        #expect(out.contains("\r\n\r\n1HTTP/1.1 200 OK"))
        #expect(out.hasSuffix("connection: close\r\n\r\n2"))
        #expect(!channel.isActive)
    }
}
