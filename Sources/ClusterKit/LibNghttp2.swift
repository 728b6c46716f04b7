import CNghttp2

/// Facts about the libnghttp2 this process is linked against.
public enum LibNghttp2 {
    /// The runtime version string of libnghttp2, e.g. `"1.52.0"`.
    public static var version: String {
        guard let info = nghttp2_version(0) else { return "unknown" }
        return String(cString: info.pointee.version_str)
    }

    /// The version number ClusterKit was compiled against (`0xMMmmpp`).
    public static var compiledVersionNumber: Int { Int(CNghttp2_versionNumber()) }
}
