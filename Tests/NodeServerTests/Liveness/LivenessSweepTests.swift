import NIOCore
import NIOEmbedded
import Testing

@testable import NodeServer

/// The per-loop sweep: O(1) registration, one pass per tick, actions after the pass (an action that
/// unregisters connections mid-tick is safe).
struct LivenessSweepTests {
    final class FakeConnection: SweptConnection {
        var sweepSlot = -1
        var verdict: ConnectionLiveness.Action = .none
        var pings = 0
        var drops = 0
        var onDrop: (() -> Void)?
        func livenessTick(now: NIODeadline) -> ConnectionLiveness.Action { verdict }
        func sendLivenessPing(_ frame: ByteBuffer) {
            #expect(Array(frame.readableBytesView) == [0x89, 0x00], "an empty, unmasked, final ping frame")
            pings += 1
        }
        func dropSilent() {
            drops += 1
            onDrop?()
        }
    }

    @Test func registrationAndRemovalKeepEveryOtherConnectionWatched() {
        let loop = EmbeddedEventLoop()
        let sweep = LivenessSweep(loop: loop, settings: LivenessSettings())
        let connections = (0..<10).map { _ in FakeConnection() }
        for connection in connections { sweep.register(connection) }
        for i in [0, 5, 9, 3] { sweep.unregister(connections[i]) }
        sweep.unregister(connections[5])  // twice: harmless
        #expect(sweep.count == 6)
        for connection in connections { connection.verdict = .sendPing }
        sweep.tick(now: .now())
        #expect(connections.map(\.pings) == [0, 1, 1, 0, 1, 0, 1, 1, 1, 0])
        #expect(connections.allSatisfy { ($0.sweepSlot == -1) == ($0.pings == 0) })
    }

    @Test func dropsThatUnregisterDuringTheTickDoNotDisturbThePass() {
        let loop = EmbeddedEventLoop()
        let sweep = LivenessSweep(loop: loop, settings: LivenessSettings())
        let connections = (0..<6).map { _ in FakeConnection() }
        for connection in connections {
            sweep.register(connection)
            connection.verdict = .drop
            connection.onDrop = { sweep.unregister(connection) }
        }
        sweep.tick(now: .now())
        #expect(connections.allSatisfy { $0.drops == 1 })
        #expect(sweep.count == 0)
    }

    @Test func theRepeatingTaskTicksOncePerPeriod() throws {
        let loop = EmbeddedEventLoop()
        let settings = LivenessSettings(pingInterval: .seconds(1), pongTimeout: .seconds(1))
        let sweep = LivenessSweep(loop: loop, settings: settings)
        sweep.start()
        let connection = FakeConnection()
        connection.verdict = .sendPing
        sweep.register(connection)
        loop.advanceTime(by: .milliseconds(1050))
        #expect(connection.pings == 10)
        sweep.stop()
        loop.run()
        loop.advanceTime(by: .seconds(1))
        #expect(connection.pings == 10)
    }
}
