package console

// Sample takes one sample of the metrics now, as Run does every SampleInterval.
func (c *Console) Sample() { c.sample() }
