import NIOCore
import RocketWSClient
import Testing

@testable import NodeServer

/// The contract's "Liveness and limits" against a real node on loopback sockets, with short times: pings and
/// the pong timeout, the handshake timeout and the 16 KiB head limit on both HTTP ports, the MessagesSource
/// idle timeout, and their counters.
@Suite(.serialized) struct LivenessLimitsTests {
    static func start() async throws -> InProcessNode {
        try await InProcessNode.start { config in
            config.webSocket.liveness = LivenessSettings(pingInterval: .milliseconds(400), pongTimeout: .milliseconds(400))
            config.webSocket.handshakeTimeout = .milliseconds(500)
            config.messagesSource.handshakeTimeout = .milliseconds(500)
            config.messagesSource.idleTimeout = .milliseconds(600)
        }
    }

    static func counter(_ name: String, _ node: InProcessNode) -> Double? {
        let text = String(decoding: node.node.metrics.render(), as: UTF8.self)
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    static func subscribe(_ socket: RawSocket, _ channel: String) async -> Bool {
        socket.sendFrame(0x1, Array(#"{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"channel":"\#(channel)"}}"#.utf8))
        return await socket.nextFrame()?.text.contains("subscribed") == true
    }

    @Test func aClientThatAnswersNothingIsPingedThenDroppedAndItsSubscriptionReleased() async throws {
        let node = try await Self.start()
        defer { Task { await node.stop() } }
        let silent = try await RawSocket.open(port: node.ports.webSocket)
        #expect(await Self.subscribe(silent, "quiet"))
        let backend = node.backend()
        let before = try await backend.call(method: "total_subscribers", params: ["channel": "quiet"])
        #expect(before["total"]?.intValue == 1)
        let started = ContinuousClock.now
        let ping = await silent.nextFrame(timeout: .seconds(3))
        #expect(ping?.opcode == 0x9, "expected a ping, got \(String(describing: ping))")
        let close = await silent.nextFrame(timeout: .seconds(3))
        #expect(close?.closeCode == 1001)
        #expect(await silent.waitForEOF(timeout: .seconds(2)), "the TCP connection stays open after the pong timeout")
        let took = ContinuousClock.now - started
        // Interval + timeout (800 ms) plus at most two sweep periods (40 ms each) and scheduling.
        #expect(took < .seconds(2), "dropped after \(took)")
        let after = try await backend.call(method: "total_subscribers", params: ["channel": "quiet"])
        #expect(after["total"]?.intValue == 0)
        #expect(Self.counter("rocketws_clients_timed_out_total", node) == 1)
        try await backend.close()
    }

    @Test func anyFrameAnswersAPing() async throws {
        let node = try await Self.start()
        defer { Task { await node.stop() } }
        let ponger = try await RawSocket.open(port: node.ports.webSocket)
        let talker = try await RawSocket.open(port: node.ports.webSocket)
        #expect(await Self.subscribe(ponger, "a"))
        #expect(await Self.subscribe(talker, "b"))
        var pings = 0
        let until = ContinuousClock.now + .seconds(2)
        // One answers pings with pongs, the other with a heartbeat request (not a pong) every 300 ms.
        while ContinuousClock.now < until {
            if let frame = await ponger.nextFrame(timeout: .milliseconds(100)), frame.opcode == 0x9 {
                pings += 1
                ponger.sendFrame(0xA, frame.payload)
            }
            talker.sendFrame(0x1, Array(#"{"jsonrpc":"2.0","id":2,"method":"heartbeat"}"#.utf8))
            _ = await talker.nextFrame(timeout: .milliseconds(200))
        }
        #expect(pings >= 2)
        #expect(Self.counter("rocketws_clients_timed_out_total", node) == 0)
        let total = try await node.backend().call(method: "total_subscribers")
        #expect(total["total"]?.intValue == 2)
        await ponger.close()
        await talker.close()
    }

    @Test(arguments: [false, true]) func anUnfinishedRequestHeadIsClosedByTheHandshakeTimeout(messagesSource: Bool) async throws {
        let node = try await Self.start()
        defer { Task { await node.stop() } }
        let port = messagesSource ? node.ports.messagesSource : node.ports.webSocket
        let slow = try await RawSocket.connect(port: port)
        slow.send(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8))
        let idle = try await RawSocket.connect(port: port)  // sends nothing at all
        #expect(await slow.waitForEOF(timeout: .seconds(3)))
        #expect(await idle.waitForEOF(timeout: .seconds(3)))
        #expect(Self.counter("rocketws_handshake_timeouts_total", node) == 2)
        // A complete head in time is served as before.
        if messagesSource {
            let health = try await node.backend().get(path: "/healthz")
            #expect(health.status == 200)
        } else {
            _ = try await RawSocket.open(port: port)
        }
    }

    @Test(arguments: [false, true]) func aRequestHeadOver16KiBGets431(messagesSource: Bool) async throws {
        let node = try await Self.start()
        defer { Task { await node.stop() } }
        let port = messagesSource ? node.ports.messagesSource : node.ports.webSocket
        let big = try await RawSocket.connect(port: port)
        big.send(Array(RawSocket.handshake(port: port, replacing: ["X-Padding": String(repeating: "p", count: 17 * 1024)]).utf8))
        #expect(await big.readHTTPResponse()?.status == 431)
        #expect(await big.waitForEOF(timeout: .seconds(2)))
        // Just under the limit is fine.
        let fits = try await RawSocket.connect(port: port)
        let head = RawSocket.handshake(port: port, replacing: ["X-Padding": String(repeating: "p", count: 15 * 1024)])
        fits.send(Array(head.utf8))
        let status = await fits.readHTTPResponse()?.status
        #expect(status == (messagesSource ? 404 : 101) || (messagesSource && status == 405))
    }

    @Test func aLaterRequestHeadOver16KiBOnAKeepAliveConnectionGets431() async throws {
        let node = try await Self.start()
        defer { Task { await node.stop() } }
        let socket = try await RawSocket.connect(port: node.ports.messagesSource)
        socket.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(await socket.readHTTPResponse()?.status == 200)
        socket.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: \(String(repeating: "p", count: 17 * 1024))\r\n\r\n".utf8))
        #expect(await socket.readHTTPResponse()?.status == 431)
        #expect(await socket.waitForEOF(timeout: .seconds(2)))
    }

    @Test func anIdleKeepAliveMessagesSourceConnectionIsClosedAndABusyOneIsNot() async throws {
        let node = try await Self.start()
        defer { Task { await node.stop() } }
        let idle = try await RawSocket.connect(port: node.ports.messagesSource)
        idle.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(await idle.readHTTPResponse()?.status == 200)
        let busy = try await RawSocket.connect(port: node.ports.messagesSource)
        let until = ContinuousClock.now + .milliseconds(1500)
        while ContinuousClock.now < until {
            busy.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(await busy.readHTTPResponse()?.status == 200)
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(await idle.waitForEOF(timeout: .zero), "an idle keep-alive connection outlived the idle timeout")
        busy.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(await busy.readHTTPResponse()?.status == 200, "a busy connection was closed")
    }
}
