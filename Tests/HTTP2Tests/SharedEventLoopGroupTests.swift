import Testing

@testable import SkyportHTTP2

/// The process's shared loops as timers.
@Suite struct SharedEventLoopGroupTests {
    @Test func sleepWaitsAtLeastItsDelayOnALoopTimer() async {
        let clock = ContinuousClock()
        let began = clock.now
        await SharedEventLoopGroup.sleep(for: .milliseconds(50))
        #expect(clock.now - began >= .milliseconds(50))
        // A zero delay still suspends and resumes.
        await SharedEventLoopGroup.sleep(for: .zero)
    }

    @Test func afterRunsItsBodyOnceTheDelayHasPassed() async {
        let clock = ContinuousClock()
        let began = clock.now
        let elapsed = await withCheckedContinuation { (continuation: CheckedContinuation<Duration, Never>) in
            SharedEventLoopGroup.after(.milliseconds(30)) { continuation.resume(returning: clock.now - began) }
        }
        #expect(elapsed >= .milliseconds(30))
    }
}
