@testable import ClusterKit
import Testing

@Suite struct MeshDialingTests {
    @Test func backoffGrowsExponentiallyWithJitterAndIsCapped() {
        for attempt in 0..<30 {
            let d = PeerMesh.backoff(attempt: attempt, min: .milliseconds(100), max: .seconds(5))
            let ceiling = min(100.0 * Double(1 << min(attempt, 20)), 5000.0)
            let ms = Double(d.nanosecondsClamped) / 1e6
            #expect(ms >= ceiling * 0.5 - 0.001 && ms <= ceiling + 0.001, "attempt \(attempt): \(ms) ms")
        }
    }

    @Test func parsesAddresses() {
        #expect(PeerMesh.parse(address: "127.0.0.1:59998")! == ("127.0.0.1", 59998))
        #expect(PeerMesh.parse(address: "node-1.cluster.local:7000")! == ("node-1.cluster.local", 7000))
        #expect(PeerMesh.parse(address: "[::1]:8080")! == ("::1", 8080))
        #expect(PeerMesh.parse(address: "nohost") == nil)
        #expect(PeerMesh.parse(address: "host:0") == nil)
        #expect(PeerMesh.parse(address: "host:99999") == nil)
    }

    @Test func handshakeProofDependsOnEveryInput() {
        let base = PeerHandshake.proof(secret: "s", role: "dialer", dialerNonce: "1", listenerNonce: "2", dialerName: "a", listenerName: "b")
        #expect(base.count == 32)
        #expect(base == PeerHandshake.proof(secret: "s", role: "dialer", dialerNonce: "1", listenerNonce: "2", dialerName: "a", listenerName: "b"))
        #expect(base != PeerHandshake.proof(secret: "t", role: "dialer", dialerNonce: "1", listenerNonce: "2", dialerName: "a", listenerName: "b"))
        #expect(base != PeerHandshake.proof(secret: "s", role: "listener", dialerNonce: "1", listenerNonce: "2", dialerName: "a", listenerName: "b"))
        #expect(base != PeerHandshake.proof(secret: "s", role: "dialer", dialerNonce: "1", listenerNonce: "3", dialerName: "a", listenerName: "b"))
        #expect(base != PeerHandshake.proof(secret: "s", role: "dialer", dialerNonce: "1", listenerNonce: "2", dialerName: "a", listenerName: "c"))
        #expect(PeerHandshake.unhex(PeerHandshake.hex(base)) == base)
        #expect(PeerHandshake.unhex("zz") == [])
    }
}
