// The evdb console: a static app served by every `evdb serve` node at /ui. It talks to the
// server only through the public API, with the package's own client.
import { render } from 'preact';
import { App } from './app.js';
import './styles.css';

const root = document.getElementById('app');
if (root === null) throw new Error('the page has no #app element');
render(<App />, root);
