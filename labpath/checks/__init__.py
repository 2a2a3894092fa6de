"""Running a lab's checks out of process and reading back what they found."""
