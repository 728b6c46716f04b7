import Foundation

/// Certificates made at test time with the `openssl` command (Debian's `openssl` package): a CA, and leaf
/// certificates it signs for serverAuth and clientAuth, as the encrypted peer mesh uses them. Files are
/// world-readable so that a node running as an unprivileged user can load them (test material only).
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public struct TestCertificateAuthority: Sendable {
    /// Folder holding this CA's files and the leaves it issued.
    public let folder: URL
    public let name: String
    /// The CA certificate (PEM).
    public var certificatePath: String { folder.appendingPathComponent("\(name)-ca.pem").path }
    var keyPath: String { folder.appendingPathComponent("\(name)-ca.key").path }

    /// A leaf certificate and its key.
    public struct Leaf: Sendable {
        public let certificatePath: String
        public let keyPath: String
    }

    /// Whether the `openssl` command is there.
    public static var opensslAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }

    /// Makes a new CA called `name` in `folder` (created, mode 0755).
    public static func make(name: String, in folder: URL) throws -> TestCertificateAuthority {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let ca = TestCertificateAuthority(folder: folder, name: name)
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", ca.keyPath, "-out", ca.certificatePath, "-days", "2", "-subj", "/CN=rocketws test CA \(name)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try worldReadable(ca.keyPath, ca.certificatePath)
        return ca
    }

    /// Issues a leaf for `subjectAltNames` (openssl syntax, e.g. `["IP:127.0.0.1", "DNS:localhost"]`).
    public func issue(_ leafName: String, subjectAltNames: [String] = ["IP:127.0.0.1", "DNS:localhost"]) throws -> Leaf {
        let base = folder.appendingPathComponent("\(name)-\(leafName)")
        let key = base.path + ".key", csr = base.path + ".csr", cert = base.path + ".pem", ext = base.path + ".ext"
        try Self.openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=\(leafName)",
        ])
        let extensions = """
            basicConstraints=critical,CA:FALSE
            keyUsage=critical,digitalSignature
            extendedKeyUsage=serverAuth,clientAuth
            subjectAltName=\(subjectAltNames.joined(separator: ","))

            """
        try extensions.write(toFile: ext, atomically: true, encoding: .utf8)
        try Self.openssl([
            "x509", "-req", "-in", csr, "-CA", certificatePath, "-CAkey", keyPath, "-CAcreateserial", "-out", cert,
            "-days", "2", "-extfile", ext,
        ])
        try Self.worldReadable(key, cert)
        return Leaf(certificatePath: cert, keyPath: key)
    }

    /// Writes the concatenation of `authorities`' certificates to `path` (a CA bundle, e.g. during a rotation).
    public static func writeBundle(_ authorities: [TestCertificateAuthority], to path: String) throws {
        var text = ""
        for ca in authorities { text += try String(contentsOfFile: ca.certificatePath, encoding: .utf8) }
        try replaceFile(path, with: text)
    }

    /// Replaces `path`'s content at once (rename), world-readable.
    public static func replaceFile(_ path: String, with text: String) throws {
        let temporary = path + ".new-\(UUID().uuidString.prefix(6))"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        try worldReadable(temporary)
        _ = rename(temporary, path)
    }

    /// Copies `source` over `destination` at once (rename).
    public static func replaceFile(_ destination: String, withContentsOf source: String) throws {
        try replaceFile(destination, with: try String(contentsOfFile: source, encoding: .utf8))
    }

    static func openssl(_ arguments: [String]) throws {
        try CommandRun.runBlocking("/usr/bin/openssl", arguments).succeeded()
    }

    static func worldReadable(_ paths: String...) throws {
        for path in paths { try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path) }
    }
}
