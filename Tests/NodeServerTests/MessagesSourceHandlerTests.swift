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
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(MessagesSourceHandler(api: EchoAPI(), settings: settings))
        // A request answered early (413) closes the connection mid-body; the parser then reports the cut.
        _ = try? channel.writeInbound(ByteBuffer(string: request))
        var out = ""
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { out += chunk.readString(length: chunk.readableBytes) ?? "" }
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
}
