import Dispatch
import NodeServer

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP reloads the peer mesh's TLS files without a restart (`Node.reloadPeerTLS()`); without TLS the node
/// logs that there is nothing to reload. The signal's default action (ending the process) is turned off.
final class PeerTLSReloadSignal {
    private let source: any DispatchSourceSignal

    init(node: Node) {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { node.reloadPeerTLS() }
        source.resume()
        self.source = source
    }

    func cancel() { source.cancel() }
}
