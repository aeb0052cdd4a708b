@testable import SkyportHTTP2
import Testing

@Suite struct ServerStreamStateMachineTests {
    @Test func finishingBeforeAnythingIsTrailersOnly() {
        var machine = ServerStreamStateMachine()
        #expect(machine.finish() == .submitTrailersOnly)
        #expect(machine.finish() == .none)
        #expect(machine.sendMessage() == .reject)
        #expect(machine.sendHeaders() == .none)
    }

    @Test func headersThenMessagesThenTrailers() {
        var machine = ServerStreamStateMachine()
        #expect(machine.sendHeaders() == .submitHeaders)
        #expect(machine.sendHeaders() == .none)
        #expect(machine.sendMessage() == .submitData)
        #expect(machine.finish() == .submitTrailers)
        #expect(machine.isFinished)
    }

    @Test func aMessageWithoutHeadersSendsEmptyHeadersFirst() {
        var machine = ServerStreamStateMachine()
        #expect(machine.sendMessage() == .submitHeadersThenData)
        #expect(machine.sendMessage() == .submitData)
    }

    @Test func resetEndsEverything() {
        var machine = ServerStreamStateMachine()
        _ = machine.sendHeaders()
        machine.reset()
        #expect(machine.sendMessage() == .reject)
        #expect(machine.finish() == .none)
    }
}
