import Foundation
import RocketWSTestKit
import Testing

/// The lab's own plumbing: what a crashed run leaves behind is removed, what a live lab owns is not.
@Suite(.serialized, .enabled(if: NetworkLab.available, Comment(rawValue: NetworkLab.unavailableReason ?? "")))
struct NetworkLabTests {
    @Test func leftoversOfADeadRunAreRemovedAndALiveLabIsKept() throws {
        // A pid above Linux's largest possible pid (4194304) belongs to no process.
        let deadNamespace = "rwlab-99999991-h1"
        let deadLink = "rwv99999991"
        try NetworkLab.run(UnprivilegedLaunch.ipPath, ["netns", "add", deadNamespace])
        try NetworkLab.run(UnprivilegedLaunch.ipPath, ["link", "add", deadLink, "type", "veth", "peer", "name", "rwv99999991p"])
        let lab = try NetworkLab(hosts: 1)  // cleans up first
        defer { lab.tearDown() }
        let namespaces = try NetworkLab.run(UnprivilegedLaunch.ipPath, ["netns", "list"])
        let links = try NetworkLab.run(UnprivilegedLaunch.ipPath, ["-o", "link", "show"])
        #expect(!namespaces.contains(deadNamespace))
        #expect(!links.contains(deadLink))
        #expect(namespaces.contains(lab.namespace(1)))
        // The lab works: its host answers from its own address through the switch.
        let output = try lab.exec(1, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
        #expect(output.contains(lab.address(1) + "/24"))
        lab.tearDown()
        #expect(!(try NetworkLab.run(UnprivilegedLaunch.ipPath, ["netns", "list"])).contains(lab.namespace(1)))
    }
}
