import Foundation
import Testing

@testable import NodeServer

/// The browser files (clients/js) as every node serves them on its WebSocket port.
@Suite(.serialized) struct BrowserAssetTests {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private static func file(_ path: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func embeddedCopiesAreTheRepositoryFiles() throws {
        // Fails after an edit of clients/js until `python3 scripts/gen-browser-assets.py` is run.
        #expect(BrowserAssetSources.rocketwsJS == (try Self.file("clients/js/rocketws.js")))
        #expect(BrowserAssetSources.demoHTML == (try Self.file("clients/js/demo.html")))
    }

    @Test func moduleIsServedWithTypeAndCachingHeaders() async throws {
        let node = try await InProcessNode.start()
        let socket = try await RawSocket.connect(port: node.ports.webSocket)
        socket.send(Array("GET /rocketws.js HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let answer = try #require(await socket.readHTTPResponse())
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"] == "text/javascript; charset=utf-8")
        #expect(answer.headers["cache-control"] == "public, max-age=300")
        #expect(answer.headers["access-control-allow-origin"] == "*")
        #expect(answer.body == (try Self.file("clients/js/rocketws.js")))
        #expect(answer.body.contains("export class RocketWS"))
        let etag = try #require(answer.headers["etag"])
        await socket.close()

        let again = try await RawSocket.connect(port: node.ports.webSocket)
        again.send(Array("GET /rocketws.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: \(etag)\r\n\r\n".utf8))
        let cached = try #require(await again.readHTTPResponse())
        #expect(cached.status == 304)
        #expect(cached.headers["etag"] == etag)
        #expect(cached.body.isEmpty)
        await again.close()

        let stale = try await RawSocket.connect(port: node.ports.webSocket)
        stale.send(Array("GET /rocketws.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"an-older-version\"\r\n\r\n".utf8))
        #expect(await stale.readHTTPResponse()?.status == 200)
        await stale.close()
        await node.stop()
    }

    @Test func demoPageImportsTheModule() async throws {
        let node = try await InProcessNode.start()
        let socket = try await RawSocket.connect(port: node.ports.webSocket)
        socket.send(Array("GET /demo HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let answer = try #require(await socket.readHTTPResponse())
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"] == "text/html; charset=utf-8")
        #expect(answer.body.contains(#"import { RocketWS } from "/rocketws.js""#))
        await socket.close()
        // The port still answers other plain requests as before.
        let other = try await RawSocket.connect(port: node.ports.webSocket)
        other.send(Array("GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(await other.readHTTPResponse()?.status == 404)
        await other.close()
        await node.stop()
    }
}
