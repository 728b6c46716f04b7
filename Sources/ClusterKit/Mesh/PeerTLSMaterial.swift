import NIOSSL
import Synchronization

/// The TLS contexts of the mesh, loaded from `PeerTLSFiles` and replaced whole on `reload()`: a connection
/// takes the contexts current when it opens, so live links keep the material they were made with.
///
/// Both sides speak TLS 1.3 only and offer ALPN `h2`. The listener requires a client certificate signed by
/// the CA bundle; a dialer checks the listener's certificate against the bundle and the dialled name (a DNS
/// name, or the IP address when the peer was dialled by address).
public final class PeerTLSMaterial: Sendable {
    public let files: PeerTLSFiles
    private let contexts: Mutex<Contexts>

    struct Contexts: Sendable {
        var server: NIOSSLContext
        var client: NIOSSLContext
    }

    /// Loads the files; throws `PeerTLSError` naming the file that cannot be used.
    public init(files: PeerTLSFiles) throws(PeerTLSError) {
        self.files = files
        self.contexts = Mutex(try Self.load(files))
    }

    /// The context for a connection accepted now.
    var serverContext: NIOSSLContext { contexts.withLock { $0.server } }
    /// The context for a connection dialled now.
    var clientContext: NIOSSLContext { contexts.withLock { $0.client } }

    /// Reads the files again; on success new connections use them. On failure the old material stays in use
    /// and the error says which file is wrong.
    public func reload() throws(PeerTLSError) {
        let fresh = try Self.load(files)
        contexts.withLock { $0 = fresh }
    }

    static func load(_ files: PeerTLSFiles) throws(PeerTLSError) -> Contexts {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        let authorities: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(files.certificatePath) } catch {
            throw PeerTLSError(file: files.certificatePath, reason: "\(error)")
        }
        guard !chain.isEmpty else { throw PeerTLSError(file: files.certificatePath, reason: "no certificate in the file") }
        do { key = try NIOSSLPrivateKey(file: files.keyPath, format: .pem) } catch {
            throw PeerTLSError(file: files.keyPath, reason: "\(error)")
        }
        do { authorities = try NIOSSLCertificate.fromPEMFile(files.caPath) } catch {
            throw PeerTLSError(file: files.caPath, reason: "\(error)")
        }
        guard !authorities.isEmpty else { throw PeerTLSError(file: files.caPath, reason: "no certificate in the file") }

        var server = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        var client = TLSConfiguration.makeClientConfiguration()
        client.certificateChain = chain.map { .certificate($0) }
        client.privateKey = .privateKey(key)
        client.certificateVerification = .fullVerification
        server.certificateVerification = .noHostnameVerification  // a client certificate is required
        server.minimumTLSVersion = .tlsv13
        client.minimumTLSVersion = .tlsv13
        server.trustRoots = .certificates(authorities)
        client.trustRoots = .certificates(authorities)
        server.applicationProtocols = [PeerTLSPolicy.alpn]
        client.applicationProtocols = [PeerTLSPolicy.alpn]
        server.sendCANameList = true
        do {
            return Contexts(server: try NIOSSLContext(configuration: server), client: try NIOSSLContext(configuration: client))
        } catch {
            throw PeerTLSError(file: files.keyPath, reason: "the certificate and key do not make a TLS context: \(error)")
        }
    }
}

/// A mesh TLS file that cannot be used.
public struct PeerTLSError: Error, CustomStringConvertible, Equatable {
    /// The file at fault.
    public var file: String
    /// What is wrong with it.
    public var reason: String

    public var description: String { "peer TLS file \(file): \(reason)" }
}
