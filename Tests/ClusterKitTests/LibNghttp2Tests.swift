import Testing
@testable import ClusterKit

@Suite struct LibNghttp2Tests {
    @Test func linksAgainstLibNghttp2() {
        #expect(LibNghttp2.version.hasPrefix("1."))
        #expect(LibNghttp2.compiledVersionNumber >= 0x013400)
    }
}
