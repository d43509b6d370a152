import { render } from 'preact';
import { FilePage } from './file-page.tsx';
import { ListPage } from './list-page.tsx';
import { TriagePage } from './triage-page.tsx';
import './style.css';

const PAGES: Record<string, () => preact.JSX.Element> = {
  '/': ListPage,
  '/file': FilePage,
  '/triage': TriagePage,
};

function App() {
  const Page = PAGES[location.pathname] ?? ListPage;
  const here = (path: string) => (location.pathname === path ? 'here' : '');
  return (
    <>
      <nav>
        <a href="/" class="brand">
          sluice
        </a>
        <a href="/" class={here('/')}>
          Files
        </a>
        <a href="/triage" class={here('/triage')}>
          Failures
        </a>
      </nav>
      <Page />
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
