import Foundation
import Synchronization

/// Starts the node's test processes the way every documented deployment runs them: as an unprivileged user
/// (uid and gid 65534, `nobody`) with no capabilities, so that a socket option or file that needs a privilege
/// fails in the tests instead of in the first deployment.
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public enum UnprivilegedLaunch {
    /// The uid and gid the node runs as when the tests run as root.
    public static let userID = 65534
    static let setprivPath = "/usr/bin/setpriv"

    /// True when processes started through ``configure(_:executable:arguments:)`` drop to ``userID``: the tests
    /// run as root, `setpriv` exists and `ROCKETWS_TEST_AS_ROOT` is not `1` (for a test that truly needs root,
    /// which says why).
    public static var dropsPrivileges: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: setprivPath)
            && ProcessInfo.processInfo.environment["ROCKETWS_TEST_AS_ROOT"] != "1"
    }

    /// Sets `process` to run `executable arguments…`, through `setpriv` as ``userID`` with an empty capability
    /// bounding set when ``dropsPrivileges`` holds. `setpriv` replaces itself with the executable, so the
    /// process id is the node's own and signals reach it directly.
    public static func configure(_ process: Process, executable: URL, arguments: [String]) {
        configure(process, executable: executable, arguments: arguments, networkNamespace: nil)
    }

    /// The same, inside network namespace `networkNamespace` when it is set: `ip netns exec NS` (which needs
    /// root and replaces itself with what follows) runs first, then the privilege drop, so the node has the
    /// namespace's network and no privilege in it. The process id is still the node's own.
    public static func configure(_ process: Process, executable: URL, arguments: [String], networkNamespace: String?) {
        var command: [String]
        if dropsPrivileges {
            command =
                [
                    setprivPath, "--reuid=\(userID)", "--regid=\(userID)", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                    "--", reachable(executable).path,
                ] + arguments
        } else {
            command = [executable.path] + arguments
        }
        if let networkNamespace { command = [ipPath, "netns", "exec", networkNamespace] + command }
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
    }

    /// iproute2's `ip`.
    public static let ipPath = FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip"

    /// `executable` itself when the unprivileged user can reach it, else a copy in a world-readable folder
    /// (a checkout under a private home folder is not reachable for `nobody`).
    static func reachable(_ executable: URL) -> URL {
        if worldCanExecute(executable) { return executable }
        return copies.withLock { copies in
            if let copy = copies[executable.path] { return copy }
            let folder = URL(fileURLWithPath: "/tmp/rocketws-test-bin-\(getpid())")
            try? FileManager.default.createDirectory(
                at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            let copy = folder.appendingPathComponent(executable.lastPathComponent)
            try? FileManager.default.removeItem(at: copy)
            try? FileManager.default.copyItem(at: executable, to: copy)
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy.path)
            copies[executable.path] = copy
            return copy
        }
    }

    private static let copies = Mutex<[String: URL]>([:])

    private static func worldCanExecute(_ url: URL) -> Bool {
        var path = url.resolvingSymlinksInPath()
        while true {
            var info = stat()
            guard stat(path.path, &info) == 0, info.st_mode & S_IXOTH != 0 else { return false }
            if path.path == "/" { return true }
            path.deleteLastPathComponent()
        }
    }
}
