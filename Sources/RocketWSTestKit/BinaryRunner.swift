import Foundation

/// Where this package's built executables are, and how a test runs one to its end (through ``CommandRun``).
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public enum BinaryRunner {
    /// The directory holding the built products: `ROCKETWS_BIN_DIR`, else the first directory above the test
    /// bundle that holds `rocketws-node` (`.build/debug`), else this package's `.build/debug`.
    public static var productsDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["ROCKETWS_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // .../debug/RocketWSPackageTests.xctest (Linux) or .../RocketWSPackageTests.xctest/Contents/MacOS/... (macOS)
        while !url.pathComponents.isEmpty, url.path != "/" {
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("rocketws-node").path) {
                return url
            }
            url.deleteLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug")
    }

    /// This package's checkout (for scripts and README the tests read).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The built executable `name` (`rocketws-node`, `rocketws-admin`).
    public static func executable(_ name: String) -> URL { productsDirectory.appendingPathComponent(name) }

    /// The environment a test process gets: the test's own without any `ROCKETWS_` variable (so the caller's
    /// shell cannot configure the node or the admin tool behind a test's back), plus `overrides`.
    public static func environment(_ overrides: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ROCKETWS_") }
        for (key, value) in overrides { environment[key] = value }
        return environment
    }

    /// Runs the built `executable arguments…` unprivileged (``UnprivilegedLaunch``) with `stdin` as input and
    /// ``environment(_:)`` until it exits; kills it and throws ``CommandRun/Failure`` if it outlives `timeout`.
    public static func run(
        _ arguments: [String],
        executable name: String = "rocketws-admin",
        stdin: String = "",
        environment: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> CommandRun.Result {
        try await CommandRun.run(
            executable(name).path, arguments, .init(stdin: stdin, environment: Self.environment(environment), unprivileged: true), timeout: timeout)
    }
}
