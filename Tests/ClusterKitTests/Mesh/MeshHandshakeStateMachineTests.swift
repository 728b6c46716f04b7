@testable import ClusterKit
import NIOCore
import Testing

@Suite struct MeshHandshakeStateMachineTests {
    let a = PeerIdentity(name: "a", address: "10.0.0.1:59998", incarnation: 3)
    let b = PeerIdentity(name: "b", address: "10.0.0.2:59998", incarnation: 9)

    private func fields(_ headers: [(String, String)]) -> [String: String] {
        Dictionary(headers, uniquingKeysWith: { _, last in last })
    }

    /// A dialer and a listener with the given secrets after the listener answered the dialer's hello; nil (and
    /// an issue recorded) when the listener did not answer with `.respond`.
    private func helloExchanged(dialerSecret: String?, listenerSecret: String?) -> (
        dialer: PeerHandshakeStateMachine, listener: PeerHandshakeStateMachine, response: [(String, String)]
    )? {
        let dialer = PeerHandshakeStateMachine(role: .dialer, own: a, secret: dialerSecret, nonce: "dn")
        var listener = PeerHandshakeStateMachine(role: .listener, own: b, secret: listenerSecret, nonce: "ln")
        guard case .respond(let response) = listener.onHello(fields(dialer.helloHeaders())) else {
            Issue.record("Expected .respond")
            return nil
        }
        return (dialer, listener, response)
    }

    /// Runs the exchange up to both sides answering `.establish`.
    @Test func fullHandshakeWithSecret() {
        guard let exchanged = helloExchanged(dialerSecret: "k", listenerSecret: "k") else { return }
        var (dialer, listener) = (exchanged.dialer, exchanged.listener)
        guard case .sendProof(let proof) = dialer.onHelloResponse(fields(exchanged.response)) else {
            Issue.record("Expected .sendProof")
            return
        }
        #expect(proof.readableBytes == 32)
        #expect(listener.onFrame(kind: PeerHandshake.Kind.proof, payload: proof) == .establish(peer: a, dialer: "a"))
        listener.onEstablished()
        #expect(listener.isEstablished)
        #expect(dialer.onFrame(kind: PeerHandshake.Kind.welcome, payload: ByteBuffer()) == .establish(peer: b, dialer: "a"))
        dialer.onEstablished()
        #expect(dialer.onFrame(kind: 16, payload: ByteBuffer()) == .deliver)
        #expect(dialer.onFrame(kind: 5, payload: ByteBuffer()) == .ignore)
        guard case .protocolError = dialer.onFrame(kind: PeerHandshake.Kind.welcome, payload: ByteBuffer()) else {
            Issue.record("Expected .protocolError for a second welcome")
            return
        }
    }

    /// A dialer that hangs up after the listener's proof (it holds another secret) is a refusal on the
    /// listener's side too; a close at any other point is not.
    @Test func dialerHangingUpBeforeItsProofIsARefusalForTheListener() {
        guard let exchanged = helloExchanged(dialerSecret: "other", listenerSecret: "k") else { return }
        var (dialer, listener) = (exchanged.dialer, exchanged.listener)
        guard case .refuse = dialer.onHelloResponse(fields(exchanged.response)) else {
            Issue.record("Expected the dialer to refuse the listener's proof")
            return
        }
        let dialerCounts = dialer.onClosed()
        let listenerCounts = listener.onClosed()
        let listenerCountsAgain = listener.onClosed()
        var fresh = PeerHandshakeStateMachine(role: .listener, own: b, secret: "k", nonce: "ln")
        let freshCounts = fresh.onClosed()
        #expect(!dialerCounts)
        #expect(listenerCounts)
        #expect(!listenerCountsAgain)
        #expect(!freshCounts)
    }

    @Test func listenerWithWrongSecretIsRefusedByDialer() {
        guard let exchanged = helloExchanged(dialerSecret: "k", listenerSecret: "other") else { return }
        var dialer = exchanged.dialer
        guard case .refuse = dialer.onHelloResponse(fields(exchanged.response)) else {
            Issue.record("Expected .refuse")
            return
        }
    }

    @Test func dialerWithoutSecretIsRefusedByListener() {
        guard let exchanged = helloExchanged(dialerSecret: nil, listenerSecret: "k") else { return }
        var (dialer, listener) = (exchanged.dialer, exchanged.listener)
        guard case .sendProof(let proof) = dialer.onHelloResponse(fields(exchanged.response)) else {
            Issue.record("Expected .sendProof")
            return
        }
        guard case .refuse = listener.onFrame(kind: PeerHandshake.Kind.proof, payload: proof) else {
            Issue.record("Expected .refuse")
            return
        }
    }

    @Test func applicationFrameBeforeProofIsRefused() {
        var dialer = PeerHandshakeStateMachine(role: .dialer, own: a, secret: nil, nonce: "dn")
        var listener = PeerHandshakeStateMachine(role: .listener, own: b, secret: nil, nonce: "ln")
        _ = listener.onHello(fields(dialer.helloHeaders()))
        guard case .refuse = listener.onFrame(kind: 16, payload: ByteBuffer()) else {
            Issue.record("Expected .refuse")
            return
        }
        _ = dialer
        dialer = PeerHandshakeStateMachine(role: .dialer, own: a, secret: nil)
        guard case .protocolError = dialer.onFrame(kind: 16, payload: ByteBuffer()) else {
            Issue.record("Expected .protocolError before any response")
            return
        }
    }

    @Test func selfDialAndMalformedHello() {
        var listener = PeerHandshakeStateMachine(role: .listener, own: b, secret: nil)
        let me = PeerHandshakeStateMachine(role: .dialer, own: b, secret: nil)
        guard case .reject(409, _) = listener.onHello(fields(me.helloHeaders())) else {
            Issue.record("Expected .reject(409)")
            return
        }
        var other = PeerHandshakeStateMachine(role: .listener, own: b, secret: nil)
        guard case .reject(400, _) = other.onHello([":path": "/v1/mesh"]) else {
            Issue.record("Expected .reject(400)")
            return
        }
        var dialer = PeerHandshakeStateMachine(role: .dialer, own: a, secret: nil)
        #expect({ if case .dialedSelf = dialer.onHelloResponse([":status": "409"]) { true } else { false } }())
    }
}
